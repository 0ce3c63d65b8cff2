// Batch-dynamic early exit: after each block the classifier reads the samples still running, those
// the policy lets go are retired, and the remaining rows continue as a smaller batch, so
// computation really stops for exited samples at any batch size.
#pragma once

#include <memory>
#include <string>

#include <torch/torch.h>

#include "layerwise/exit/policy.h"
#include "layerwise/inference/scope.h"
#include "layerwise/model/layered_model.h"

namespace layerwise::exit {

/// How the runner groups rows into block calls.
///   batch   each input batch runs until its last sample has exited before the next one starts:
///           the lowest latency per batch; late layers run on the few rows that remain.
///   stream  rows waiting before each block are pooled across input batches, and a block runs
///           once batch_size rows wait for it (or when the inputs are used up): every block call
///           is full, the highest throughput for a stream of inputs (continuous batching per
///           depth); a sample may finish after samples of later batches. It holds up to about
///           L x batch_size hidden states at once (rows waiting before each block).
enum class Schedule { batch, stream };

struct ExitResult {
  torch::Tensor predictions;  // (N) int64, in input order
  torch::Tensor exit_layer;   // (N) int64 in 1..L
  torch::Tensor confidence;   // (N) float32 top softmax probability where the sample exited
};

/// CUDA graphs of the runner's full-size block calls (block, pooling, head and exit rule as one
/// launch), kept between runs because capturing costs far more than a replay. Valid for one model
/// with unchanged weights, one policy and one head choice; used only on CUDA builds and devices
/// with options.cuda_graphs.
class ExitGraphs {
 public:
  ExitGraphs();
  ~ExitGraphs();
  ExitGraphs(const ExitGraphs&) = delete;
  ExitGraphs& operator=(const ExitGraphs&) = delete;
  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// Runs `inputs` (N, ...) through `model` on options.device with at most batch_size rows per block
/// call (eval mode, no gradients), exiting per `policy` with the last layer's classifier
/// (HeadChoice::last) or each layer's own (HeadChoice::own). Results on the CPU, the same for both
/// schedules up to the floating-point differences of computing a row in a different batch (none on
/// CPU in the tests; on CUDA a kernel may change with the batch size). One host sync per block
/// call (the number of rows that stay decides the next shape). On CUDA with options.cuda_graphs,
/// full-size block calls replay graphs from `graphs` (nullptr: a cache for this run alone).
ExitResult run_early_exit(model::LayeredModel& model, const torch::Tensor& inputs,
                          const ExitPolicy& policy, inference::HeadChoice heads,
                          const inference::InferenceOptions& options,
                          Schedule schedule = Schedule::batch, ExitGraphs* graphs = nullptr);

}  // namespace layerwise::exit

namespace layerwise {
template <>
struct EnumNames<exit::Schedule> {
  static constexpr std::pair<exit::Schedule, const char*> values[] = {
      {exit::Schedule::batch, "batch"}, {exit::Schedule::stream, "stream"}};
};
}  // namespace layerwise
