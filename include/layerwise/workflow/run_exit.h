// `layerwise exit`: early-exit curves of a trained run, a calibrated threshold, and measured
// wall-clock speed-up, written as RUN/exit.json.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerwise/distributed/communicator.h"
#include "layerwise/exit/policy.h"
#include "layerwise/exit/runner.h"
#include "layerwise/inference/scope.h"

namespace layerwise::workflow {

struct RunExitOptions {
  exit::PolicyKind policy = exit::PolicyKind::confidence;
  double threshold = -1;       // >= 0: use this threshold; < 0: calibrate on the validation split
  double max_drop = 0.005;     // calibration target: accuracy drop allowed (0.005 = half a point)
  std::string split = "test";  // where the points are reported
  bool last_head = false;      // multi-head runs: read every layer with the last head instead
  std::vector<int64_t> time_batches =
      {};                       // batch sizes at which to time the runner (none: untimed)
  int64_t time_samples = 2048;  // samples timed per batch size
  int64_t time_repeats = 3;     // timed runs per measurement (the median is kept)
  std::vector<exit::Schedule> time_schedules = {exit::Schedule::batch, exit::Schedule::stream};
  std::string out;     // exit.json path; empty: RUN/exit.json
  bool quiet = false;  // no progress on stderr
  inference::InferenceOptions inference;
  // Several ranks: each predicts its share of the test and validation samples; rank 0 sweeps,
  // calibrates, times the runner (on its own) and writes exit.json. Null: one process. Not owned.
  distributed::Communicator* comm = nullptr;
};

/// Sweeps the policy's thresholds on the split ("points"), calibrates (or takes) a threshold,
/// reports it on the validation and evaluation splits, times the batch-dynamic runner against
/// full depth at each batch size and schedule, writes exit.json and returns it.
nlohmann::json run_exit(const std::string& run_dir, const RunExitOptions& options);

/// "1,32,256" -> {1, 32, 256}; throws naming `flag` on an item that is not a positive integer.
std::vector<int64_t> parse_batch_sizes(const std::string& list, const std::string& flag);

/// "batch,stream" -> the schedules; throws naming `flag` on an unknown one.
std::vector<exit::Schedule> parse_schedules(const std::string& list, const std::string& flag);

}  // namespace layerwise::workflow
