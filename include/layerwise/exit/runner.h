// Batch-dynamic early exit: after each block the classifier reads the samples still running, those
// the policy lets go are retired, and the remaining rows continue as a smaller batch, so
// computation really stops for exited samples at any batch size.
#pragma once

#include <torch/torch.h>

#include "layerwise/analysis/layerwise_eval.h"
#include "layerwise/exit/policy.h"
#include "layerwise/model/layered_model.h"

namespace layerwise::exit {

struct ExitResult {
  torch::Tensor predictions;  // (N) int64, in input order
  torch::Tensor exit_layer;   // (N) int64 in 1..L
  torch::Tensor confidence;   // (N) float32 top softmax probability where the sample exited
};

/// Runs `inputs` (N, ...) through `model` in batches of batch_size on options.device (eval mode,
/// no gradients), exiting per `policy` with the last layer's classifier (HeadChoice::last) or each
/// layer's own (HeadChoice::own). Results on the CPU. One host sync per layer and batch (the number
/// of samples still running decides the next batch's shape).
ExitResult run_early_exit(model::LayeredModel& model, const torch::Tensor& inputs,
                          const ExitPolicy& policy, analysis::HeadChoice heads,
                          const analysis::EvalOptions& options);

}  // namespace layerwise::exit
