// Measured speed-up of early exit: the batch-dynamic runner against the plain full-depth forward
// pass of the same model (all L blocks, one head read, no per-layer syncs), both timed on the same
// samples, device and batch size.
#pragma once

#include <string>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "layerwise/exit/policy.h"
#include "layerwise/exit/runner.h"
#include "layerwise/inference/scope.h"
#include "layerwise/model/layered_model.h"

namespace layerwise::exit {

struct ExitTiming {
  int64_t batch_size = 0;
  Schedule schedule = Schedule::batch;
  std::string device;
  int64_t samples = 0;
  double early_exit_seconds = 0;  // median of `repeats` runs after a warm-up, alternating with
                                  // the full-depth runs
  double full_depth_seconds = 0;
  double mean_exit_layer = 0;  // of the timed samples
  double speedup_layers = 0;   // L / mean_exit_layer: the ideal
  double speedup_wall = 0;     // full_depth_seconds / early_exit_seconds: what was measured
  double efficiency() const { return speedup_wall / speedup_layers; }
};

/// Times `inputs` (N, ...) in batches of options.batch_size on options.device: the runner with
/// `schedule` against full depth with the same batch size.
ExitTiming time_early_exit(model::LayeredModel& model, const torch::Tensor& inputs,
                           const ExitPolicy& policy, inference::HeadChoice heads,
                           const inference::InferenceOptions& options, Schedule schedule,
                           int64_t repeats = 3);

/// {"batch_size", "schedule", "device", "samples", "early_exit_seconds", "full_depth_seconds",
///  "mean_exit_layer", "speedup_layers", "speedup_wall", "efficiency"}
nlohmann::json to_json(const ExitTiming& timing);

}  // namespace layerwise::exit
