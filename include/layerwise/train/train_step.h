// One optimization step — forward, the objective's loss, backward, gradient clipping, the AdamW
// update — as one object, so that the trainer, the benchmark and the tests run the same code.
//
// On CUDA (a build with LAYERWISE_CUDA and a fused optimizer) the step of each input shape is
// captured once as a CUDA graph and replayed: one launch instead of several hundred. The first
// steps of a shape run eagerly (warm-up: cuBLAS handles, autograd's threads, the caching
// allocator), the next one is captured and replayed; a shape seen once (the short last batch of
// an epoch) stays eager. What made the step capturable: the learning rate and AdamW's step count
// live in device memory (set_lr before the replay), nothing in the step reads back to the host,
// and gradients are created inside the graph (never zeroed in place) so that an eager step
// in between cannot mix with them.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "layerwise/core/cuda_graph.h"
#include "layerwise/distributed/communicator.h"
#include "layerwise/distributed/gradients.h"
#include "layerwise/model/layered_model.h"
#include "layerwise/train/objective.h"
#include "layerwise/train/optimizer.h"
#include "layerwise/train/run_config.h"

namespace layerwise::train {

struct StepSettings {
  Objective objective = Objective::standard;
  LayerLossWeights layer_weights;  // fixed (L) float32 on the model's device, or learned
  double label_smoothing = 0;
  double clip_norm = 1.0;   // <= 0: no clipping
  bool bf16 = false;        // bf16 autocast (CUDA only)
  bool cuda_graphs = true;  // capture and replay on CUDA where the build allows it
  // Data parallel: this rank's share of each global batch; gradients and the logged numbers are
  // summed over the ranks (also in a group of one: the same path). Null: one process. Not owned.
  distributed::Communicator* comm = nullptr;
  Distillation distill = {};  // self-distillation (aligned, multihead); off by default
};

/// A run's AdamW settings (train.beta1, beta2, adam_eps, weight_decay).
AdamWConfig adamw_config(const TrainConfig& train);

/// A run's step settings for a model of `n_layers` layers on `device`: the objective, its layer
/// weights (train.layer_weighting) as device tensors (learned: new trainable ones), label
/// smoothing, clipping, bf16 autocast (CUDA only) and graphs. The trainer and bench/bench_train
/// take them from here.
StepSettings step_settings(const TrainConfig& train, int64_t n_layers, const torch::Device& device);

/// The trainable tensors of the objective itself, for AdamW's `own` list: the learned layer
/// weighting's log variances as "objective.layer_log_variance", or none.
NamedTensors objective_parameters(const StepSettings& settings);

/// What one step leaves for the log: device tensors, owned by the caller (no host sync).
struct StepOutputs {
  torch::Tensor loss;          // () the weighted objective
  torch::Tensor layer_loss;    // (L) per-layer cross-entropy (standard: NaN except the last)
  torch::Tensor correct;       // () top-1 hits of the last layer's classifier
  torch::Tensor items;         // () labelled items
  torch::Tensor grad_norm;     // () gradient norm before clipping
  torch::Tensor distill = {};  // () the distillation term before its weight (0 when off)
};

class TrainStep {
 public:
  TrainStep(model::LayeredModel& model, AdamW& optimizer, StepSettings settings);
  ~TrainStep();

  /// One step on inputs `x` and labels `y` (on the model's device) with learning rate `lr`.
  StepOutputs run(const torch::Tensor& x, const torch::Tensor& y, double lr);

  /// Whether steps of this configuration can be graph-captured (CUDA build, CUDA model, fused
  /// optimizer, settings.cuda_graphs, one process).
  bool uses_graphs() const { return graphs_enabled_; }
  /// Steps replayed from a graph so far (the rest ran eagerly).
  int64_t replayed_steps() const { return replayed_; }
  /// Why capturing failed (steps then stay eager), or empty.
  const std::string& graph_failure() const { return graph_failure_; }

 private:
  struct Captured;
  StepOutputs eager(const torch::Tensor& x, const torch::Tensor& y);
  StepOutputs forward_backward_update(const torch::Tensor& x, const torch::Tensor& y);
  StepOutputs data_parallel_backward(ObjectiveResult& result);
  bool data_parallel() const { return settings_.comm != nullptr; }

  model::LayeredModel& model_;
  AdamW& optimizer_;
  StepSettings settings_;
  bool graphs_enabled_ = false;
  std::map<std::vector<int64_t>, int64_t> seen_;  // steps run per input shape
  std::map<std::vector<int64_t>, std::unique_ptr<Captured>> graphs_;
  int64_t replayed_ = 0;
  std::string graph_failure_;
  std::unique_ptr<distributed::GradientReducer> reducer_;  // data parallel: built at first use
};

}  // namespace layerwise::train
