#include "layerwise/analysis/cos.h"

#include "layerwise/core/error.h"

namespace layerwise::analysis {

namespace {

// Rows scaled to unit norm; zero rows stay zero.
torch::Tensor unit_rows(const torch::Tensor& x) {
  const auto y = x.to(compute_dtype(x));
  const auto norms = y.norm(2, {1}, /*keepdim=*/true);  // (N, 1)
  const auto inverse = torch::where(norms > 0, 1.0 / norms, torch::zeros_like(norms));
  return y * inverse;  // (N, D)
}

// (N, L, D): the unit-row layers stacked along a new layer axis.
torch::Tensor stack_unit_rows(const Layers& layers) {
  std::vector<torch::Tensor> units;
  units.reserve(layers.size());
  for (const auto& x : layers) units.push_back(unit_rows(x));
  return torch::stack(units, 1);
}

// (L, N*D): each layer's unit rows, flattened, written in place into one buffer.
torch::Tensor flat_unit_rows(const Layers& layers) {
  const auto& first = layers.front();
  auto units = torch::empty({static_cast<int64_t>(layers.size()), first.size(0), first.size(1)},
                            first.options().dtype(compute_dtype(first)));  // (L, N, D)
  for (size_t l = 0; l < layers.size(); ++l) {
    auto unit = units[static_cast<int64_t>(l)].copy_(layers[l]);
    // A zero row divided by the clamped norm stays zero: its cosine counts as 0.
    unit.div_(unit.norm(2, {1}, /*keepdim=*/true).clamp_min_(1e-30));
  }
  return units.view({units.size(0), -1});
}

void check_equal_width(const Layers& a, const Layers& b) {
  const int64_t d = a.front().size(1);
  for (size_t l = 0; l < a.size(); ++l)
    LW_CHECK(a[l].size(1) == d, "cos needs one width for all layers: A layer ", l,
             " has D=", a[l].size(1), " but A layer 0 has D=", d);
  for (size_t l = 0; l < b.size(); ++l)
    LW_CHECK(b[l].size(1) == d, "cos needs one width for all layers: B layer ", l,
             " has D=", b[l].size(1), " but A layer 0 has D=", d);
}

}  // namespace

torch::Tensor cos_per_sample(const torch::Tensor& x, const torch::Tensor& y) {
  check_layer_pair({x}, {y});
  check_equal_width({x}, {y});
  return (unit_rows(x) * unit_rows(y)).sum(1);  // (N)
}

torch::Tensor cos_per_sample_matrix(const Layers& a, const Layers& b) {
  check_layer_pair(a, b);
  check_equal_width(a, b);
  const auto units_a = stack_unit_rows(a);                                // (N, La, D)
  const auto units_b = same_layers(a, b) ? units_a : stack_unit_rows(b);  // (N, Lb, D)
  return torch::bmm(units_a, units_b.transpose(1, 2));                    // (N, La, Lb)
}

torch::Tensor cos(const Layers& a, const Layers& b) {
  check_layer_pair(a, b);
  check_equal_width(a, b);
  // The mean over samples of <u_i^a, u_i^b> is the Frobenius product of the unit-row layers over N:
  // one (La, N*D) x (N*D, Lb) product gives every pair.
  const int64_t n = a.front().size(0);
  const auto flat_a = flat_unit_rows(a);                                              // (La, N*D)
  const auto flat_b = same_layers(a, b) ? flat_a : flat_unit_rows(b);                 // (Lb, N*D)
  return torch::mm(flat_a, flat_b.t()).to(torch::kFloat64) / static_cast<double>(n);  // (La, Lb)
}

}  // namespace layerwise::analysis
