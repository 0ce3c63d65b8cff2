#include "layerwise/train/objective.h"

#include <cmath>
#include <limits>

#include "layerwise/core/error.h"

namespace layerwise::train {

model::HeadMode head_mode_for(Objective objective) {
  return objective == Objective::multihead ? model::HeadMode::per_layer : model::HeadMode::shared;
}

std::vector<double> layer_weights(const WeightSchedule& schedule, int64_t n_layers) {
  LW_CHECK(n_layers >= 1, "layer weights need at least one layer, got ", n_layers);
  LW_CHECK(schedule.scheme == LayerWeighting::custom || schedule.custom.empty(),
           "train.layer_weights are given but train.layer_weighting is ", schedule.scheme,
           " (custom takes them)");
  LW_CHECK(std::isfinite(schedule.rate) && std::abs(schedule.rate) <= 50,
           "train.weight_rate must be in [-50, 50], got ", schedule.rate);
  LW_CHECK(std::isfinite(schedule.last_boost) && schedule.last_boost > 0,
           "train.last_weight_boost must be > 0, got ", schedule.last_boost);
  std::vector<double> w(n_layers);
  for (int64_t l = 1; l <= n_layers; ++l) {
    const double depth = double(l), share = double(l - n_layers) / double(n_layers);
    switch (schedule.scheme) {
      case LayerWeighting::linear:
        w[l - 1] = depth;
        break;
      case LayerWeighting::uniform:
      case LayerWeighting::learned:  // where it starts: s = 0
        w[l - 1] = 1;
        break;
      case LayerWeighting::sqrt:
        w[l - 1] = std::sqrt(depth);
        break;
      case LayerWeighting::exponential:
        w[l - 1] = std::exp(schedule.rate * share);
        break;
      case LayerWeighting::custom:
        break;
    }
  }
  double sum = 0;
  if (schedule.scheme == LayerWeighting::custom) {
    LW_CHECK(int64_t(schedule.custom.size()) == n_layers, "train.layer_weights has ",
             schedule.custom.size(), " values; the model has ", n_layers, " layers");
    for (double x : schedule.custom)
      LW_CHECK(x >= 0 && std::isfinite(x), "train.layer_weights must be finite and >= 0, got ", x);
    w = schedule.custom;
    for (double x : w) sum += x;
    LW_CHECK(sum > 0, "train.layer_weights are all zero");
  } else {
    for (double x : w) sum += x;
    for (auto& x : w) x /= sum;  // named schemes sum to 1
    sum = 1;
  }
  if (schedule.last_boost != 1) {  // the total stays what it was
    w.back() *= schedule.last_boost;
    double boosted = 0;
    for (double x : w) boosted += x;
    for (auto& x : w) x *= sum / boosted;
  }
  return w;
}

std::vector<double> layer_weights(LayerWeighting scheme, int64_t n_layers,
                                  const std::vector<double>& custom) {
  WeightSchedule schedule;
  schedule.scheme = scheme;
  schedule.custom = custom;
  return layer_weights(schedule, n_layers);
}

LayerLossWeights LayerLossWeights::learned(int64_t n_layers, const torch::Device& device) {
  LayerLossWeights weights;
  weights.log_variance =
      torch::zeros({n_layers}, torch::dtype(torch::kFloat32).device(device)).requires_grad_(true);
  return weights;
}

torch::Tensor LayerLossWeights::weigh(const torch::Tensor& layer_loss) const {
  if (!is_learned()) return (fixed * layer_loss).sum();
  const auto s = log_variance.to(layer_loss.scalar_type());  // (L)
  return ((-s).exp() * layer_loss + s).mean();
}

torch::Tensor LayerLossWeights::current() const {
  if (!is_learned()) return fixed.detach();
  return torch::softmax(-log_variance.detach(), 0);
}

torch::Tensor distillation_term(const torch::Tensor& logits, const torch::Tensor& targets,
                                double temperature) {
  LW_CHECK(temperature > 0 && std::isfinite(temperature),
           "train.distill_temperature must be > 0, got ", temperature);
  const int64_t n_layers = logits.size(0);
  if (n_layers < 2) return torch::zeros({}, logits.options());
  const auto scaled = logits.to(torch::kFloat32) / temperature;                    // (L, N, C)
  const auto teacher = torch::log_softmax(scaled[n_layers - 1].detach(), -1);      // (N, C)
  const auto students = torch::log_softmax(scaled.slice(0, 0, n_layers - 1), -1);  // (L-1, N, C)
  const auto kl = (teacher.exp() * (teacher - students)).sum(-1);                  // (L-1, N)
  const auto scored = targets.ne(kIgnoreLabel).to(kl.scalar_type());               // (N)
  const auto per_layer = (kl * scored).sum(1) / scored.sum().clamp_min(1);         // (L-1)
  return per_layer.mean() * (temperature * temperature);
}

ObjectiveResult objective_loss(model::LayeredModel& model, Objective objective,
                               const LayerLossWeights& weights, const torch::Tensor& input,
                               const torch::Tensor& labels, double label_smoothing,
                               const Distillation& distill) {
  LW_CHECK(label_smoothing >= 0 && label_smoothing < 1,
           "train.label_smoothing must be in [0, 1), got ", label_smoothing);
  LW_CHECK(distill.weight >= 0 && std::isfinite(distill.weight),
           "train.distill must be finite and >= 0, got ", distill.weight);
  LW_CHECK(distill.weight == 0 || objective != Objective::standard,
           "train.distill needs a classifier read after every layer: objective aligned or "
           "multihead, not standard");
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
    result.distill = torch::zeros({}, result.loss.options());
    return finish(logits);
  }
  LW_CHECK(weights.size() == n_layers, "objective: ", weights.size(), " layer weights for ",
           n_layers, " layers");
  std::vector<torch::Tensor> layer_loss;
  torch::Tensor last_logits, all_logits;  // (N, C), (L, N, C)
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
    all_logits = logits;
  } else {
    std::vector<torch::Tensor> every;
    for (int64_t l = 1; l <= n_layers; ++l) {
      const auto logits = model.head_at(items_of(hidden[l]), l).to(torch::kFloat32);  // (N, C)
      layer_loss.push_back(torch::cross_entropy_loss(logits, targets, {}, at::Reduction::Mean,
                                                     kIgnoreLabel, label_smoothing));
      if (distill.weight > 0) every.push_back(logits);
      if (l == n_layers) last_logits = logits;
    }
    result.layer_loss = torch::stack(layer_loss);  // (L)
    if (distill.weight > 0) all_logits = torch::stack(every);
  }
  result.loss = weights.weigh(result.layer_loss);
  if (distill.weight > 0) {
    const auto term = distillation_term(all_logits, targets, distill.temperature);
    result.loss = result.loss + distill.weight * term;
    result.distill = term.detach();
  } else {
    result.distill = torch::zeros({}, result.loss.options());
  }
  result.layer_loss = result.layer_loss.detach();
  return finish(last_logits);
}

}  // namespace layerwise::train
