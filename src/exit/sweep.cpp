#include "layerwise/exit/sweep.h"

#include <cmath>
#include <limits>

#include "layerwise/core/error.h"
#include "layerwise/model/depth_cost.h"

namespace layerwise::exit {

LayerCosts layer_costs(const model::ModelConfig& c, int64_t tokens) {
  // One block and one head read of the depth-1 model (model/depth_cost.h counts them the same way
  // as the report's per-depth table and export --depth).
  const auto one = model::forward_flops(c, 1, tokens);
  LayerCosts costs;
  costs.embed = one.embed;
  costs.block = one.total() - one.embed - one.heads;
  costs.head = one.heads;
  return costs;
}

torch::Tensor simulate_exit_layers(const ExitPolicy& policy, const analysis::LayerPredictions& p) {
  validate(policy);
  const int64_t n_layers = p.predictions.size(0), n = p.predictions.size(1);
  torch::Tensor ok;  // (L, N) bool: the policy lets the sample go at that layer
  switch (policy.kind) {
    case PolicyKind::confidence:
      ok = p.confidence.ge(policy.threshold);
      break;
    case PolicyKind::entropy:
      ok = p.entropy.le(policy.threshold);
      break;
    case PolicyKind::depth:
      ok = torch::arange(1, n_layers + 1).ge(policy.threshold).unsqueeze(1).expand({n_layers, n});
      break;
    case PolicyKind::patience: {
      std::vector<torch::Tensor> streaks = {torch::ones({n}, torch::kInt64)};
      for (int64_t l = 1; l < n_layers; ++l) {
        const auto same = p.predictions[l].eq(p.predictions[l - 1]);
        streaks.push_back(torch::where(same, streaks.back() + 1, torch::ones_like(streaks.back())));
      }
      ok = torch::stack(streaks).ge(int64_t(policy.threshold));
      break;
    }
  }
  ok = ok.clone();
  ok[n_layers - 1].fill_(true);               // everyone leaves at the last layer
  return ok.to(torch::kInt64).argmax(0) + 1;  // first layer that lets go: (N)
}

ExitPoint evaluate_policy(const ExitPolicy& policy, const analysis::LayerPredictions& p,
                          const LayerCosts& costs) {
  const int64_t n_layers = p.predictions.size(0);
  const auto exit_layer = simulate_exit_layers(policy, p);                                // (N)
  const auto chosen = p.predictions.gather(0, (exit_layer - 1).unsqueeze(0)).squeeze(0);  // (N)
  ExitPoint point;
  point.threshold = policy.threshold;
  point.accuracy = chosen.eq(p.labels).to(torch::kFloat64).mean().item<double>();
  point.mean_exit_layer = exit_layer.to(torch::kFloat64).mean().item<double>();
  point.speedup_layers = double(n_layers) / point.mean_exit_layer;
  const double full = costs.embed + double(n_layers) * costs.block + costs.head;
  point.flops_ratio = (costs.embed + point.mean_exit_layer * (costs.block + costs.head)) / full;
  return point;
}

std::vector<double> sweep_thresholds(PolicyKind kind, int64_t n_layers) {
  std::vector<double> t;
  switch (kind) {
    case PolicyKind::confidence:
      for (double x : {0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995,
                       0.999, 1.0})
        t.push_back(x);
      break;
    case PolicyKind::entropy:
      for (double x :
           {0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1, 0.07, 0.05, 0.03, 0.01, 0.0})
        t.push_back(x);
      break;
    case PolicyKind::patience:
    case PolicyKind::depth:
      for (int64_t l = 1; l <= n_layers; ++l) t.push_back(double(l));
      break;
  }
  return t;
}

double calibrate_threshold(PolicyKind kind, const analysis::LayerPredictions& p, double max_drop) {
  LW_CHECK(max_drop >= 0 && max_drop < 1,
           "the calibration's accuracy drop must be in [0, 1) (0.005 = half a point), got ",
           max_drop);
  const int64_t n_layers = p.predictions.size(0);
  const double full = analysis::layer_accuracy(p)[n_layers - 1].item<double>();
  double best_threshold = std::numeric_limits<double>::quiet_NaN();
  double best_depth = std::numeric_limits<double>::infinity();
  for (double t : sweep_thresholds(kind, n_layers)) {
    const auto point = evaluate_policy({kind, t}, p, {});
    if (point.accuracy >= full - max_drop - 1e-12 && point.mean_exit_layer < best_depth) {
      best_depth = point.mean_exit_layer;
      best_threshold = t;
    }
  }
  // Nothing qualified (confidence 1.0 can still let saturated samples go early): the most cautious.
  return std::isnan(best_threshold) ? sweep_thresholds(kind, n_layers).back() : best_threshold;
}

nlohmann::json to_json(const ExitPoint& point) {
  return {{"threshold", point.threshold},
          {"accuracy", point.accuracy},
          {"mean_exit_layer", point.mean_exit_layer},
          {"speedup_layers", point.speedup_layers},
          {"flops_ratio", point.flops_ratio}};
}

}  // namespace layerwise::exit
