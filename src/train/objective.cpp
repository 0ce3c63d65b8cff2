#include "layerwise/train/objective.h"

#include <cmath>
#include <limits>

#include "layerwise/core/error.h"

namespace layerwise::train {

model::HeadMode head_mode_for(Objective objective) {
  return objective == Objective::multihead ? model::HeadMode::per_layer : model::HeadMode::shared;
}

std::vector<double> layer_weights(LayerWeighting scheme, int64_t n_layers,
                                  const std::vector<double>& custom) {
  LW_CHECK(n_layers >= 1, "layer weights need at least one layer, got ", n_layers);
  std::vector<double> w(n_layers);
  switch (scheme) {
    case LayerWeighting::linear:
      for (int64_t l = 1; l <= n_layers; ++l)
        w[l - 1] = 2.0 * l / double(n_layers * (n_layers + 1));
      return w;
    case LayerWeighting::uniform:
      for (auto& x : w) x = 1.0 / double(n_layers);
      return w;
    case LayerWeighting::custom:
      break;
  }
  LW_CHECK(int64_t(custom.size()) == n_layers, "train.layer_weights has ", custom.size(),
           " values; the model has ", n_layers, " layers");
  double sum = 0;
  for (double x : custom) {
    LW_CHECK(x >= 0 && std::isfinite(x), "train.layer_weights must be finite and >= 0, got ", x);
    sum += x;
  }
  LW_CHECK(sum > 0, "train.layer_weights are all zero");
  return custom;
}

ObjectiveResult objective_loss(model::LayeredModel& model, Objective objective,
                               const torch::Tensor& weights, const torch::Tensor& input,
                               const torch::Tensor& labels, double label_smoothing) {
  LW_CHECK(label_smoothing >= 0 && label_smoothing < 1,
           "train.label_smoothing must be in [0, 1), got ", label_smoothing);
  const int64_t n_layers = model.n_layers();
  const auto mask = model.token_mask(input);        // (B, T) or undefined
  const auto hidden = model.forward_layers(input);  // L + 1 of (B, T, D)
  // Items scored: one per sample, or one per position of per-token models: (N, D) and (N).
  auto items_of = [&](const torch::Tensor& h) {
    const auto z = model.pool(h, mask);
    return model.per_token() ? z.flatten(0, 1) : z;
  };
  LW_CHECK(model.per_token() ? labels.sizes() == input.sizes() : labels.dim() == 1,
           "objective: labels of shape ", labels.sizes(), " do not fit a model that predicts ",
           model.per_token() ? "every token" : "one class per sample");
  const auto targets = model.per_token() ? labels.flatten() : labels;  // (N)
  ObjectiveResult result;
  auto finish = [&](const torch::Tensor& last_logits) {
    result.last_logits = last_logits.detach();
    result.correct = result.last_logits.argmax(-1).eq(targets).sum();
    result.items = targets.ne(kIgnoreLabel).sum();
    return result;
  };
  if (objective == Objective::standard) {
    const auto logits = model.head(items_of(hidden.back()));  // (N, C)
    result.loss = torch::cross_entropy_loss(logits.to(torch::kFloat32), targets, {},
                                            at::Reduction::Mean, kIgnoreLabel, label_smoothing);
    result.layer_loss =
        torch::full({n_layers}, std::numeric_limits<double>::quiet_NaN(), result.loss.options());
    result.layer_loss[n_layers - 1] = result.loss.detach();
    return finish(logits);
  }
  LW_CHECK(weights.dim() == 1 && weights.size(0) == n_layers, "objective: ", weights.numel(),
           " layer weights for ", n_layers, " layers");
  std::vector<torch::Tensor> layer_loss;
  torch::Tensor last_logits;
  if (objective == Objective::aligned) {
    // One head call on all layers at once: (L, B, D) -> (L, B, C).
    std::vector<torch::Tensor> pooled;
    for (int64_t l = 1; l <= n_layers; ++l) pooled.push_back(items_of(hidden[l]));
    const auto logits = model.head(torch::stack(pooled)).to(torch::kFloat32);  // (L, N, C)
    const auto per_item =
        torch::cross_entropy_loss(logits.flatten(0, 1), targets.repeat({n_layers}),  // (L N)
                                  {}, at::Reduction::None, kIgnoreLabel, label_smoothing);
    // Mean over the scored items only (ignored ones contribute 0), as the Mean reduction does.
    const auto scored = targets.ne(kIgnoreLabel).sum().clamp_min(1).to(per_item.scalar_type());
    result.layer_loss = per_item.view({n_layers, -1}).sum(1) / scored;  // (L)
    last_logits = logits[n_layers - 1];
  } else {
    for (int64_t l = 1; l <= n_layers; ++l) {
      const auto logits = model.head_at(items_of(hidden[l]), l).to(torch::kFloat32);  // (N, C)
      layer_loss.push_back(torch::cross_entropy_loss(logits, targets, {}, at::Reduction::Mean,
                                                     kIgnoreLabel, label_smoothing));
      if (l == n_layers) last_logits = logits;
    }
    result.layer_loss = torch::stack(layer_loss);  // (L)
  }
  result.loss = (weights * result.layer_loss).sum();
  result.layer_loss = result.layer_loss.detach();
  return finish(last_logits);
}

}  // namespace layerwise::train
