#include "layerwise/analysis/cos.h"

#include "layerwise/core/error.h"

namespace layerwise::analysis {

torch::Tensor unit_rows(const torch::Tensor& x) {
  const auto y = x.to(compute_dtype(x));
  const auto norms = y.norm(2, {1}, /*keepdim=*/true);  // (N, 1)
  const auto inverse = torch::where(norms > 0, 1.0 / norms, torch::zeros_like(norms));
  return y * inverse;  // (N, D)
}

namespace {

// (L, N, D): each layer's unit rows, written in place into one buffer.
torch::Tensor unit_row_stack(const Layers& layers) {
  const auto& first = layers.front();
  auto units = torch::empty({static_cast<int64_t>(layers.size()), first.size(0), first.size(1)},
                            first.options().dtype(compute_dtype(first)));  // (L, N, D)
  for (size_t l = 0; l < layers.size(); ++l) {
    auto unit = units[static_cast<int64_t>(l)].copy_(layers[l]);
    // A zero row divided by the clamped norm stays zero: its cosine counts as 0.
    unit.div_(unit.norm(2, {1}, /*keepdim=*/true).clamp_min_(1e-30));
  }
  return units;
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
  const auto units_a = unit_row_stack(a).transpose(0, 1);  // (N, La, D), a strided view
  const auto units_b =
      same_layers(a, b) ? units_a : unit_row_stack(b).transpose(0, 1);  // (N, Lb, D)
  return torch::bmm(units_a, units_b.transpose(1, 2));                  // (N, La, Lb)
}

torch::Tensor cos(const Layers& a, const Layers& b) {
  // The per-sample (La, Lb) products, summed over samples in float32 and divided in float64.
  // One batched product over samples: a single (La, N*D) x (N*D, Lb) product was measured twice as
  // slow on CPU (OpenBLAS with a huge inner dimension); on the H200 it trailed PyTorch's bmm too.
  return cos_per_sample_matrix(a, b).sum(0).to(torch::kFloat64) /
         static_cast<double>(a.front().size(0));  // (La, Lb)
}

}  // namespace layerwise::analysis
