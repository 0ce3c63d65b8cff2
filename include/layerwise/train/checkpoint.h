// A run's checkpoints (core/run_dir.h names the files). Each checkpoint is written whole in its own
// folder, RUN/checkpoints/step-<step>.partial: the weights (stable names), the AdamW moments, the
// trainer state and a manifest of their sizes and CRC-32s, each flushed to disk; the folder is then
// renamed to step-<step> and published by one atomic rename of the link RUN/checkpoint. The
// previous complete checkpoints stay until the new one is published (the newest `keep` are kept),
// so a crash or a full disk at any moment leaves the last published checkpoint intact.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "layerwise/core/run_dir.h"
#include "layerwise/model/layered_model.h"
#include "layerwise/train/optimizer.h"
#include "layerwise/train/run_config.h"

namespace layerwise::train {

/// Writes and publishes a checkpoint of `state.step`, then removes all but the newest `keep`.
void save_checkpoint(const RunDir& run, model::LayeredModel& model, const AdamW& optimizer,
                     const TrainerState& state, int64_t keep = 2);

struct RestoredCheckpoint {
  TrainerState state;
  std::string source;  // the folder it came from
};

/// Restores model and optimizer from the newest checkpoint whose manifest verifies (a run written
/// before checkpoint folders: its plain files, which must record the same step). Throws
/// layerwise::Error saying why each candidate failed when none can be used.
RestoredCheckpoint load_checkpoint(const RunDir& run, model::LayeredModel& model, AdamW& optimizer);

/// True when the run holds a checkpoint, complete or not (a run stopped before its first one has
/// none: it can start again from step 0).
bool has_checkpoint(const RunDir& run);

/// Why the checkpoint in `folder` cannot be used ("" when its manifest verifies).
std::string verify_checkpoint(const std::string& folder);

struct LoadedRun {
  RunConfig config;
  model::ModelPtr model;  // on the requested device, eval mode
  TrainerState state;
};

/// The model of a run directory (config.json + the published weights) for evaluation.
LoadedRun load_run(const std::string& run_dir, const torch::Device& device);

}  // namespace layerwise::train
