// A run directory's checkpoint: model.safetensors (the weights, stable names),
// optimizer.safetensors (AdamW moments) and trainer_state.json (steps done). Each file is written
// atomically; the three record the same step, which loading checks, so a checkpoint interrupted
// between files is refused rather than silently mixed.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "layerwise/model/layered_model.h"
#include "layerwise/train/optimizer.h"
#include "layerwise/train/run_config.h"

namespace layerwise::train {

struct TrainerState {
  int64_t step = 0;         // optimizer steps done
  int64_t total_steps = 0;  // steps of the whole run
  double seconds = 0;       // training time so far (validation and checkpoints included)
  bool finished() const { return step >= total_steps; }
};

/// RUN/trainer_state.json; throws layerwise::Error naming the file if missing or malformed.
TrainerState read_trainer_state(const std::string& run_dir);

void save_checkpoint(const std::string& run_dir, model::LayeredModel& model, const AdamW& optimizer,
                     const TrainerState& state);

/// Restores model and optimizer from run_dir and returns its state.
TrainerState load_checkpoint(const std::string& run_dir, model::LayeredModel& model,
                             AdamW& optimizer);

struct LoadedRun {
  RunConfig config;
  model::ModelPtr model;  // on the requested device, eval mode
  TrainerState state;
};

/// The model of a run directory (config.json + model.safetensors) for evaluation.
LoadedRun load_run(const std::string& run_dir, const torch::Device& device);

}  // namespace layerwise::train
