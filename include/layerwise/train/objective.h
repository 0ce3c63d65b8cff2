// Training objectives over the layers of a LayeredModel.
//
//   standard:  CE(head(pool(h_L)), y)
//   aligned:   sum_l w_l CE(head(pool(h_l)), y), l = 1..L, one shared head (Jiang, Zhou, Zhu 2025)
//   multihead: sum_l w_l CE(head_l(pool(h_l)), y), a separate head per layer (multi-exit baseline)
//
// Layer weights (sum 1): linear w_l ∝ l (the paper's default), uniform, sqrt w_l ∝ sqrt(l),
// exponential w_l ∝ exp(rate l / L) (rate > 0 favours the deep layers), or a list used as given;
// any of them with the last layer's weight multiplied by a boost (the rest scaled to keep the sum).
// Learned (uncertainty weighting, Kendall, Gal & Cipolla 2018): trainable log variances s (L),
// updated by the optimizer with the model, and the loss (1/L) sum_l exp(-s_l) CE_l + s_l; s = 0 at
// the start (uniform), at its optimum s_l = log CE_l, so a layer weighs ∝ 1 / CE_l: the layers that
// cannot fit the labels yet are weighed down. Its weights are softmax(-s). s learns at a multiple
// of the learning rate (train.weight_lr_scale): at the model's rate it would barely leave 0 in a
// run of a few thousand steps.
//
// Self-distillation (aligned and multihead): + lambda T^2 mean_{l<L} KL(p_L^T || p_l^T), where
// p_l^T = softmax(z_l / T) and the last layer's p_L^T is detached (a target, not pulled toward the
// shallow layers), averaged over the labelled items.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "layerwise/core/enum_names.h"
#include "layerwise/model/layered_model.h"

namespace layerwise::train {

enum class Objective { standard, aligned, multihead };

/// How the objective weighs the layers (see above); custom: a list of L weights.
enum class LayerWeighting { linear, uniform, sqrt, exponential, custom, learned };

/// The schedule's parameters besides its name.
struct WeightSchedule {
  LayerWeighting scheme = LayerWeighting::linear;
  std::vector<double> custom;  // custom: L non-negative weights, not all zero
  double rate = 1.0;           // exponential: w_l ∝ exp(rate l / L)
  double last_boost = 1.0;     // the last layer's weight x this, the others rescaled (sum kept)
};

/// The distillation term's weight lambda (0: off) and temperature T.
struct Distillation {
  double weight = 0;
  double temperature = 1;
};

/// The head layout an objective trains: per_layer for multihead, shared otherwise.
model::HeadMode head_mode_for(Objective objective);

/// The L layer weights of a schedule (learned: the ones it starts from, uniform). Throws
/// layerwise::Error naming the train.* setting that does not fit (custom weights of the wrong count
/// or sign, a rate or boost out of range).
std::vector<double> layer_weights(const WeightSchedule& schedule, int64_t n_layers);
/// The weights of a named scheme without parameters besides `custom`.
std::vector<double> layer_weights(LayerWeighting scheme, int64_t n_layers,
                                  const std::vector<double>& custom = {});

/// The weights an objective applies to its per-layer losses, as device tensors: fixed (L) weights,
/// sum_l w_l CE_l, or learned (L) log variances s (trainable), (1/L) sum_l exp(-s_l) CE_l + s_l.
struct LayerLossWeights {
  LayerLossWeights() = default;
  /// Fixed weights (L) float32 on the model's device (made once from layer_weights()).
  LayerLossWeights(torch::Tensor fixed)  // NOLINT(google-explicit-constructor): a tensor is fixed
      : fixed(std::move(fixed)) {}
  /// The learned schedule of L layers: log variances at 0, requiring gradients, on `device`.
  static LayerLossWeights learned(int64_t n_layers, const torch::Device& device);

  torch::Tensor fixed;         // (L) float32, or undefined when learned
  torch::Tensor log_variance;  // (L) float32 trainable, or undefined when fixed

  bool is_learned() const { return log_variance.defined(); }
  int64_t size() const {
    return is_learned() ? log_variance.numel() : fixed.defined() ? fixed.numel() : 0;
  }
  /// The objective's sum of the per-layer losses (L) -> (), differentiable in both.
  torch::Tensor weigh(const torch::Tensor& layer_loss) const;
  /// The weights in use, summing to 1 for named schedules: fixed as given, learned softmax(-s).
  /// (L) float32, detached.
  torch::Tensor current() const;
};

struct ObjectiveResult {
  torch::Tensor loss;         // () the weighted sum, differentiable
  torch::Tensor layer_loss;   // (L) detached per-layer cross-entropy (standard: only the last is
                              // computed; the others are NaN)
  torch::Tensor last_logits;  // (N, C) detached logits of layer L's classifier, one row per item
  torch::Tensor correct;      // () top-1 hits of last_logits among the labelled items
  torch::Tensor items;        // () labelled items (samples; for per-token models, positions)
  torch::Tensor distill;      // () detached distillation term before its weight (0 when off)
};

/// Runs the model on `input` and returns the objective's loss on `labels`: (B) int64, or for
/// per-token models (decoders) (B, T) with kIgnoreLabel where no token is predicted. `weights`
/// (unused by standard) weigh the per-layer losses.
/// label_smoothing in [0, 1) mixes the one-hot targets with the uniform distribution; `distill`
/// adds the self-distillation term (aligned and multihead only).
using model::kIgnoreLabel;

ObjectiveResult objective_loss(model::LayeredModel& model, Objective objective,
                               const LayerLossWeights& weights, const torch::Tensor& input,
                               const torch::Tensor& labels, double label_smoothing = 0.0,
                               const Distillation& distill = {});

/// T^2 mean over layers l < L and labelled items of KL(softmax(z_L / T) || softmax(z_l / T)),
/// z_L detached: logits (L, N, C), targets (N) with kIgnoreLabel for unlabelled items. () 0 when
/// L = 1.
torch::Tensor distillation_term(const torch::Tensor& logits, const torch::Tensor& targets,
                                double temperature);

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
      {train::LayerWeighting::sqrt, "sqrt"},
      {train::LayerWeighting::exponential, "exponential"},
      {train::LayerWeighting::custom, "custom"},
      {train::LayerWeighting::learned, "learned"}};
};
}  // namespace layerwise
