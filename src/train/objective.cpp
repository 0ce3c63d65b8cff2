#include "layerwise/train/objective.h"

#include <cmath>
#include <limits>

#include "layerwise/core/error.h"

namespace layerwise::train {

std::string to_string(Objective objective) {
  switch (objective) {
    case Objective::standard:
      return "standard";
    case Objective::aligned:
      return "aligned";
    case Objective::multihead:
      return "multihead";
  }
  return "?";
}

Objective parse_objective(const std::string& name) {
  if (name == "standard") return Objective::standard;
  if (name == "aligned") return Objective::aligned;
  if (name == "multihead") return Objective::multihead;
  throw Error(str_cat("objective '", name, "' is not known; use standard, aligned or multihead"));
}

model::HeadMode head_mode_for(Objective objective) {
  return objective == Objective::multihead ? model::HeadMode::per_layer : model::HeadMode::shared;
}

std::vector<double> layer_weights(const std::string& scheme, int64_t n_layers,
                                  const std::vector<double>& custom) {
  LW_CHECK(n_layers >= 1, "layer weights need at least one layer, got ", n_layers);
  std::vector<double> w(n_layers);
  if (scheme == "linear") {
    for (int64_t l = 1; l <= n_layers; ++l) w[l - 1] = 2.0 * l / double(n_layers * (n_layers + 1));
  } else if (scheme == "uniform") {
    for (auto& x : w) x = 1.0 / double(n_layers);
  } else if (scheme == "custom") {
    LW_CHECK(int64_t(custom.size()) == n_layers, "--layer-weights has ", custom.size(),
             " values; the model has ", n_layers, " layers");
    double sum = 0;
    for (double x : custom) {
      LW_CHECK(x >= 0 && std::isfinite(x), "--layer-weights must be finite and >= 0, got ", x);
      sum += x;
    }
    LW_CHECK(sum > 0, "--layer-weights are all zero");
    w = custom;
  } else {
    throw Error(str_cat("layer weighting '", scheme, "' is not known; use linear, uniform or a ",
                        "comma-separated list of numbers"));
  }
  return w;
}

ObjectiveResult objective_loss(model::LayeredModel& model, Objective objective,
                               const torch::Tensor& weights, const torch::Tensor& input,
                               const torch::Tensor& labels, double label_smoothing) {
  LW_CHECK(label_smoothing >= 0 && label_smoothing < 1, "--label-smoothing must be in [0, 1), got ",
           label_smoothing);
  const int64_t n_layers = model.n_layers();
  const auto hidden = model.forward_layers(input);  // L + 1 of (B, T, D)
  ObjectiveResult result;
  if (objective == Objective::standard) {
    const auto logits = model.head(model.pool(hidden.back()));  // (B, C)
    result.loss = torch::cross_entropy_loss(logits.to(torch::kFloat32), labels, {},
                                            at::Reduction::Mean, -100, label_smoothing);
    result.layer_loss =
        torch::full({n_layers}, std::numeric_limits<double>::quiet_NaN(), result.loss.options());
    result.layer_loss[n_layers - 1] = result.loss.detach();
    result.last_logits = logits.detach();
    return result;
  }
  LW_CHECK(weights.dim() == 1 && weights.size(0) == n_layers, "objective: ", weights.numel(),
           " layer weights for ", n_layers, " layers");
  std::vector<torch::Tensor> layer_loss;
  torch::Tensor last_logits;
  if (objective == Objective::aligned) {
    // One head call on all layers at once: (L, B, D) -> (L, B, C).
    std::vector<torch::Tensor> pooled;
    for (int64_t l = 1; l <= n_layers; ++l) pooled.push_back(model.pool(hidden[l]));
    const auto logits = model.head(torch::stack(pooled)).to(torch::kFloat32);  // (L, B, C)
    const auto per_sample =
        torch::cross_entropy_loss(logits.flatten(0, 1), labels.repeat({n_layers}),  // (L B)
                                  {}, at::Reduction::None, -100, label_smoothing);
    result.layer_loss = per_sample.view({n_layers, -1}).mean(1);  // (L)
    last_logits = logits[n_layers - 1];
  } else {
    for (int64_t l = 1; l <= n_layers; ++l) {
      const auto logits = model.head_at(model.pool(hidden[l]), l).to(torch::kFloat32);  // (B, C)
      layer_loss.push_back(torch::cross_entropy_loss(logits, labels, {}, at::Reduction::Mean, -100,
                                                     label_smoothing));
      if (l == n_layers) last_logits = logits;
    }
    result.layer_loss = torch::stack(layer_loss);  // (L)
  }
  result.loss = (weights * result.layer_loss).sum();
  result.layer_loss = result.layer_loss.detach();
  result.last_logits = last_logits.detach();
  return result;
}

}  // namespace layerwise::train
