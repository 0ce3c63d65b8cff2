// The training loop, generic over models and objectives: AdamW, warm-up + cosine schedule,
// gradient clipping, bf16 autocast on CUDA, periodic validation, atomic checkpoints, resume.
//
// A run directory holds config.json, model.safetensors, optimizer.safetensors,
// trainer_state.json and metrics.jsonl: one line per step {"step", "epoch", "lr", "loss",
// "layer_loss", "accuracy", "grad_norm", "samples_per_second"} and one per validation
// {"step", "epoch", "val_accuracy" (per layer), "val_loss" (per layer)}. Batch order, augmentation
// and initialization are functions of the seed and the step, so on CPU a resumed run reaches the
// same weights as an uninterrupted one.
#pragma once

#include <string>
#include <vector>

#include "layerwise/distributed/communicator.h"
#include "layerwise/train/run_config.h"

namespace layerwise::train {

struct TrainOptions {
  int64_t stop_after_steps = 0;  // > 0: checkpoint and return after this many steps in total
  bool quiet = false;            // no progress on stderr
  // Data parallel (a process group, of any size): each rank trains on its share of every global
  // batch and gradients are summed; rank 0 alone writes the run folder. Null: one process.
  // Not owned.
  distributed::Communicator* comm = nullptr;
};

struct TrainSummary {
  int64_t step = 0, total_steps = 0;
  double seconds = 0;                // wall time of this call
  double samples_per_second = 0;     // training throughput of this call
  std::vector<double> val_accuracy;  // per layer, at the last validation (empty if none)
};

/// Starts a run: writes run_dir/config.json (run_dir is created; it must not hold a run yet),
/// then trains. config.data's normalization is measured if not given. With several ranks, rank 0
/// creates the folder and the others start once it has.
TrainSummary train_new_run(RunConfig config, const std::string& run_dir,
                           const TrainOptions& options);

/// Continues the run in run_dir from its last checkpoint. `device` overrides the recorded one
/// unless empty.
TrainSummary resume_run(const std::string& run_dir, const std::string& device,
                        const TrainOptions& options);

}  // namespace layerwise::train
