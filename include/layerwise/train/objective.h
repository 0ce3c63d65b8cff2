// Training objectives over the layers of a LayeredModel.
//
//   standard:  CE(head(pool(h_L)), y)
//   aligned:   sum_l w_l CE(head(pool(h_l)), y), l = 1..L, one shared head (Jiang, Zhou, Zhu 2025)
//   multihead: sum_l w_l CE(head_l(pool(h_l)), y), a separate head per layer (multi-exit baseline)
//
// Layer weights: linear w_l = 2l / (L(L+1)) (the paper's default), uniform w_l = 1/L, or a list.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "layerwise/core/enum_names.h"
#include "layerwise/model/layered_model.h"

namespace layerwise::train {

enum class Objective { standard, aligned, multihead };

/// How the objective weighs the layers: linear w_l = 2l / (L(L+1)), uniform 1/L, or custom (a
/// list of L weights).
enum class LayerWeighting { linear, uniform, custom };

/// The head layout an objective trains: per_layer for multihead, shared otherwise.
model::HeadMode head_mode_for(Objective objective);

/// The L layer weights of `scheme` (custom: `custom` holds L non-negative numbers, not all zero,
/// used as given). Throws layerwise::Error naming train.layer_weights when they do not fit.
std::vector<double> layer_weights(LayerWeighting scheme, int64_t n_layers,
                                  const std::vector<double>& custom = {});

struct ObjectiveResult {
  torch::Tensor loss;         // () the weighted sum, differentiable
  torch::Tensor layer_loss;   // (L) detached per-layer cross-entropy (standard: only the last is
                              // computed; the others are NaN)
  torch::Tensor last_logits;  // (N, C) detached logits of layer L's classifier, one row per item
  torch::Tensor correct;      // () top-1 hits of last_logits among the labelled items
  torch::Tensor items;        // () labelled items (samples; for per-token models, positions)
};

/// Runs the model on `input` and returns the objective's loss on `labels`: (B) int64, or for
/// per-token models (decoders) (B, T) with kIgnoreLabel where no token is predicted. `weights` is
/// (L) float32 on the model's device (unused by standard), made once from layer_weights().
/// label_smoothing in [0, 1) mixes the one-hot targets with the uniform distribution.
using model::kIgnoreLabel;

ObjectiveResult objective_loss(model::LayeredModel& model, Objective objective,
                               const torch::Tensor& weights, const torch::Tensor& input,
                               const torch::Tensor& labels, double label_smoothing = 0.0);

}  // namespace layerwise::train

namespace layerwise {
template <>
struct EnumNames<train::Objective> {
  static constexpr std::pair<train::Objective, const char*> values[] = {
      {train::Objective::standard, "standard"},
      {train::Objective::aligned, "aligned"},
      {train::Objective::multihead, "multihead"}};
};
template <>
struct EnumNames<train::LayerWeighting> {
  static constexpr std::pair<train::LayerWeighting, const char*> values[] = {
      {train::LayerWeighting::linear, "linear"},
      {train::LayerWeighting::uniform, "uniform"},
      {train::LayerWeighting::custom, "custom"}};
};
}  // namespace layerwise
