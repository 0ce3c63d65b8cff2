#include "layerwise/analysis/layer_readout.h"

#include "layerwise/core/matrix_io.h"

namespace layerwise::analysis {

torch::Tensor layer_accuracy(const LayerPredictions& p) {
  return p.predictions.eq(p.labels.unsqueeze(0)).to(torch::kFloat64).mean(1);  // (L)
}

torch::Tensor saturation_layers(const torch::Tensor& predictions) {
  const int64_t n_layers = predictions.size(0);
  const auto disagrees = predictions.ne(predictions[n_layers - 1].unsqueeze(0));  // (L, N)
  const auto layer = torch::arange(1, n_layers + 1, torch::kInt64).unsqueeze(1);  // (L, 1)
  // The last layer that disagrees with layer L (0 if none); saturation is the one after it.
  return (disagrees.to(torch::kInt64) * layer).amax(0) + 1;  // (N)
}

int64_t minimal_depth(const torch::Tensor& accuracy, double tolerance) {
  const auto acc = accuracy.to(torch::kFloat64).contiguous();
  const auto* a = acc.data_ptr<double>();
  const int64_t n_layers = acc.numel();
  for (int64_t l = 0; l < n_layers; ++l)
    if (a[l] >= a[n_layers - 1] - tolerance) return l + 1;
  return n_layers;
}

nlohmann::json layerwise_summary(const LayerPredictions& p, double tolerance) {
  const int64_t n_layers = p.predictions.size(0);
  const auto accuracy = layer_accuracy(p);
  const auto saturation = saturation_layers(p.predictions);
  const auto histogram = torch::bincount(saturation, {}, n_layers + 1).slice(0, 1);  // (L)
  std::vector<int64_t> counts(histogram.data_ptr<int64_t>(),
                              histogram.data_ptr<int64_t>() + n_layers);
  const auto last = p.predictions[n_layers - 1].unsqueeze(0);  // (1, N)
  return {
      {"n_samples", p.labels.numel()},
      {"accuracy", vector_to_json(accuracy)},
      {"agreement_with_last", vector_to_json(p.predictions.eq(last).to(torch::kFloat64).mean(1))},
      {"final_accuracy", accuracy[n_layers - 1].item<double>()},
      {"mean_confidence", vector_to_json(p.confidence.mean(1))},
      {"loss", vector_to_json(p.loss.mean(1))},
      {"cos_to_last", vector_to_json(p.cos_to_last.mean(1))},
      {"saturation_layer_histogram", counts},
      {"mean_saturation_layer", saturation.to(torch::kFloat64).mean().item<double>()},
      {"minimal_depth", minimal_depth(accuracy, tolerance)},
      {"minimal_depth_tolerance", tolerance}};
}

}  // namespace layerwise::analysis
