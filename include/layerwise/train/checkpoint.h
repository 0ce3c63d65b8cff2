// A run folder's checkpoint (core/run_dir.h names the files): the weights (stable names), the AdamW
// moments and the trainer state. Each file is written atomically; the three record the same step,
// which loading checks, so a checkpoint interrupted between files is refused rather than silently
// mixed.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "layerwise/core/run_dir.h"
#include "layerwise/model/layered_model.h"
#include "layerwise/train/optimizer.h"
#include "layerwise/train/run_config.h"

namespace layerwise::train {

void save_checkpoint(const RunDir& run, model::LayeredModel& model, const AdamW& optimizer,
                     const TrainerState& state);

/// Restores model and optimizer from run_dir and returns its state.
TrainerState load_checkpoint(const RunDir& run, model::LayeredModel& model, AdamW& optimizer);

struct LoadedRun {
  RunConfig config;
  model::ModelPtr model;  // on the requested device, eval mode
  TrainerState state;
};

/// The model of a run directory (config.json + model.safetensors) for evaluation.
LoadedRun load_run(const std::string& run_dir, const torch::Device& device);

}  // namespace layerwise::train
