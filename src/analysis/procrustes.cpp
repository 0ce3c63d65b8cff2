#include "layerwise/analysis/procrustes.h"

#include "layerwise/core/error.h"

namespace layerwise::analysis {

namespace {

// Centered, unit-Frobenius float64 representation of x (N, D). When D > N the layer is replaced by
// Z = U sqrt(Lambda) from its Gram matrix X X^T = U Lambda U^T: Z Z^T = X X^T, so every X^T Y has
// the singular values of Z^T Y, at N columns instead of D.
torch::Tensor normalized_layer(const torch::Tensor& x, int64_t index, const std::string& what) {
  auto centered = center_columns(x).to(torch::kFloat64);  // (N, D)
  if (centered.size(1) > centered.size(0)) {
    const auto eig = torch::linalg_eigh(torch::mm(centered, centered.t()));           // (N), (N, N)
    centered = std::get<1>(eig) * std::get<0>(eig).clamp_min(0).sqrt().unsqueeze(0);  // (N, N)
  }
  const auto norm = centered.norm();
  LW_CHECK(norm.item<double>() > 0, what, " layer ", index,
           " is constant over the samples: the Procrustes distance is undefined");
  return centered / norm;
}

Layers normalized_layers(const Layers& layers, const std::string& what) {
  Layers out;
  for (size_t l = 0; l < layers.size(); ++l)
    out.push_back(normalized_layer(layers[l], static_cast<int64_t>(l), what));
  return out;
}

}  // namespace

torch::Tensor procrustes(const Layers& a, const Layers& b) {
  check_layer_pair(a, b);
  const bool same = same_layers(a, b);
  const Layers na = normalized_layers(a, "A");
  const Layers nb = same ? na : normalized_layers(b, "B");
  const int64_t la = static_cast<int64_t>(na.size());
  const int64_t lb = static_cast<int64_t>(nb.size());
  auto nuclear =
      torch::zeros({la, lb}, torch::TensorOptions(torch::kFloat64).device(a[0].device()));
  for (int64_t i = 0; i < la; ++i) {
    for (int64_t j = same ? i : 0; j < lb; ++j) {
      const auto value = torch::linalg_svdvals(torch::mm(na[i].t(), nb[j])).sum();  // ()
      nuclear[i][j] = value;
      if (same) nuclear[j][i] = value;
    }
  }
  return (2 - 2 * nuclear).clamp_min_(0);
}

}  // namespace layerwise::analysis
