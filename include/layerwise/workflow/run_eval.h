// `layerwise eval`: the layer-wise reading of a trained run on one split, written as RUN/eval.json
// and RUN/eval_predictions.safetensors.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "layerwise/distributed/communicator.h"
#include "layerwise/inference/scope.h"

namespace layerwise::workflow {

struct RunEvalOptions {
  std::string split = "test";  // test | val | train
  double tolerance = 0.01;     // minimal depth: first layer within this of the final accuracy
  int64_t samples = 0;         // > 0: the first N samples of the split only
  std::string out;             // eval.json path; empty: RUN/eval.json
  inference::InferenceOptions inference;  // batch size, device, bf16
  bool quiet = false;
  // Several ranks: each predicts its share of the samples, rank 0 writes the files (the same
  // files one process writes). Null: one process. Not owned.
  distributed::Communicator* comm = nullptr;
};

/// Evaluates the run and writes eval.json (and eval_predictions.safetensors beside it: per layer
/// and sample predictions, confidence, loss, cos_to_last; labels; saturation layer). Returns the
/// JSON written. For per-layer-head models, "accuracy" etc. are each layer's own head and
/// "last_head" holds the same summary for the last head applied to every layer.
nlohmann::json evaluate_run(const std::string& run_dir, const RunEvalOptions& options);

}  // namespace layerwise::workflow
