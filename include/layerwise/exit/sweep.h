// Exit decisions simulated from a layer-wise evaluation (predict_layers): what a policy would do
// at every threshold, without running the model again. The batch-dynamic runner (runner.h) makes
// the same decisions (it is tested against them) and is what saves time; this is what finds the
// thresholds.
#pragma once

#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "layerwise/analysis/layer_readout.h"
#include "layerwise/exit/policy.h"
#include "layerwise/model/config.h"

namespace layerwise::exit {

/// Per-sample forward cost in FLOPs of a model's parts, counted as model::forward_flops does
/// (matrix products, a multiply-add = 2; the class and distillation tokens included).
struct LayerCosts {
  double embed = 0;  // input to hidden[0]
  double block = 0;  // one transformer block
  double head = 0;   // one classifier read (BERT's pooler included)
};
/// Samples of `tokens` tokens (0: the model's own length; text runs pass the padded length,
/// train::run_sample_tokens).
LayerCosts layer_costs(const model::ModelConfig& config, int64_t tokens = 0);

/// (N) int64 exit layer in 1..L of every sample under `policy`.
torch::Tensor simulate_exit_layers(const ExitPolicy& policy, const analysis::LayerPredictions& p);

struct ExitPoint {
  double threshold = 0;
  double accuracy = 0;  // of the prediction at each sample's exit layer
  double mean_exit_layer = 0;
  double speedup_layers = 0;  // L / mean exit layer
  double flops_ratio = 0;     // early-exit FLOPs / full-depth FLOPs, head reads included
};

ExitPoint evaluate_policy(const ExitPolicy& policy, const analysis::LayerPredictions& p,
                          const LayerCosts& costs);

/// The thresholds a sweep tries for a policy kind on an L-layer model, from the most eager exit to
/// the most cautious.
std::vector<double> sweep_thresholds(PolicyKind kind, int64_t n_layers);

/// The threshold whose mean exit layer is smallest among those keeping accuracy within max_drop
/// (a fraction: 0.005 = half a point) of the full model's (layer L) accuracy on `p`.
double calibrate_threshold(PolicyKind kind, const analysis::LayerPredictions& p, double max_drop);

nlohmann::json to_json(const ExitPoint& point);

}  // namespace layerwise::exit
