#include "layerwise/data/example_activations.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "layerwise/core/error.h"

namespace layerwise::data {

std::vector<std::pair<std::string, torch::Tensor>> example_activations(
    const ExampleOptions& options) {
  LW_CHECK(options.n_samples > 1 && options.n_tokens > 0 && options.width > 0 &&
               options.n_layers > 0 && options.n_classes > 0,
           "example: samples (> 1), tokens, width, layers and classes must be positive");
  // The file holds every layer: refuse what would not fit rather than fail inside an allocation.
  const double bytes = 4.0 * double(options.n_samples) * double(options.n_tokens) *
                       double(options.width) * double(options.n_layers + 1);
  constexpr double kMaxBytes = 16.0 * (1ull << 30);
  if (bytes > kMaxBytes)
    throw EnvironmentError(
        str_cat("example: ", options.n_layers + 1, " layers of ", options.n_samples, " x ",
                options.n_tokens, " x ", options.width, " float32 need ", bytes / (1ull << 30),
                " GiB; the limit is 16 GiB (lower --samples, --tokens, --width ", "or --layers)"));
  torch::NoGradGuard no_grad;
  auto generator = at::detail::createCPUGenerator(options.seed);
  const auto normal = [&](at::IntArrayRef shape) { return at::normal(0.0, 1.0, shape, generator); };
  const int64_t n = options.n_samples, t = options.n_tokens, d = options.width;
  const auto labels = at::randint(options.n_classes, {n}, generator, torch::kLong);  // (N)
  const auto centres = normal({options.n_classes, 1, d});                            // (C, 1, D)
  auto h = centres.index_select(0, labels) + 0.8 * normal({n, t, d});                // (N, T, D)

  std::vector<std::pair<std::string, torch::Tensor>> out;
  out.emplace_back("layer.0", h.clone());
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  for (int64_t l = 1; l <= options.n_layers; ++l) {
    const auto w_in = normal({d, 2 * d}) * scale;                            // (D, 2D)
    const auto w_out = normal({2 * d, d}) * (scale / std::sqrt(2.0));        // (2D, D)
    const auto normed = at::layer_norm(h, {d});                              // (N, T, D)
    h = h + 0.5 * normed.mean(1, /*keepdim=*/true);                          // token mixing
    h = h + torch::tanh(at::layer_norm(h, {d}).matmul(w_in)).matmul(w_out);  // (N, T, D)
    out.emplace_back("layer." + std::to_string(l), h.clone());
  }
  out.emplace_back("labels", labels);
  return out;
}

}  // namespace layerwise::data
