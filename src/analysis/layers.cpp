#include "layerwise/analysis/layers.h"

#include <cmath>

#include "layerwise/core/error.h"

namespace layerwise::analysis {

namespace {

// Finds the first non-finite entry of every layer with one host synchronization for the whole list.
// A sum propagates NaN and Inf, so one reduction per layer (no temporary) screens it; only a layer
// whose sum is not finite (or overflows) is searched for the sample at fault.
void check_finite(const Layers& layers, const std::string& what) {
  std::vector<torch::Tensor> sums;  // each () float64
  sums.reserve(layers.size());
  for (const auto& x : layers) sums.push_back(x.sum().to(torch::kFloat64));
  const auto screened = torch::stack(sums).cpu();  // (L)
  const auto* sum = screened.data_ptr<double>();
  for (size_t l = 0; l < layers.size(); ++l) {
    if (std::isfinite(sum[l])) continue;
    const auto bad = ~torch::isfinite(layers[l]);  // (N, D)
    const int64_t count = bad.sum().item<int64_t>();
    if (count == 0) continue;  // a finite layer whose float32 sum overflowed
    const int64_t sample = bad.any(1).nonzero()[0][0].item<int64_t>();
    throw Error(str_cat(what, " layer ", l, " has ", count,
                        " NaN or Inf value(s), the first in sample ", sample));
  }
}

}  // namespace

void check_layers(const Layers& layers, const std::string& what) {
  LW_CHECK(!layers.empty(), what, ": no layers given");
  const auto& first = layers.front();
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto& x = layers[l];
    LW_CHECK(x.defined(), what, " layer ", l, " is an undefined tensor");
    LW_CHECK(x.dim() == 2, what, " layer ", l, " must be (N, D) but has shape ", x.sizes(),
             "; pool token dimensions first");
    LW_CHECK(x.is_floating_point(), what, " layer ", l, " must be floating point but is ",
             x.scalar_type());
    LW_CHECK(x.size(0) == first.size(0), what, " layer ", l, " has ", x.size(0),
             " samples but layer 0 has ", first.size(0));
    LW_CHECK(x.size(1) > 0, what, " layer ", l, " has no features");
    LW_CHECK(x.device() == first.device(), what, " layer ", l, " is on ", x.device(),
             " but layer 0 is on ", first.device());
  }
  LW_CHECK(first.size(0) > 1, what, ": need at least 2 samples, got ", first.size(0));
  check_finite(layers, what);
}

void check_layer_pair(const Layers& a, const Layers& b) {
  check_layers(a, "A");
  if (same_layers(a, b)) return;
  check_layers(b, "B");
  LW_CHECK(a.front().size(0) == b.front().size(0), "A has ", a.front().size(0),
           " samples but B has ", b.front().size(0), "; both must hold the same samples in order");
  LW_CHECK(a.front().device() == b.front().device(), "A is on ", a.front().device(),
           " but B is on ", b.front().device());
}

bool same_layers(const Layers& a, const Layers& b) {
  if (a.size() != b.size()) return false;
  for (size_t l = 0; l < a.size(); ++l)
    if (!a[l].is_same(b[l])) return false;
  return true;
}

torch::ScalarType compute_dtype(const torch::Tensor& x) {
  return x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

torch::Tensor center_columns(const torch::Tensor& x) {
  // Two passes: subtract the mean, then the mean of what is left. The second pass removes the
  // rounding error of the first, which matters when a large common offset hides a small spread
  // (the residual-stream case), without copying the layer to float64 (slow on CPU).
  const auto y = x.to(compute_dtype(x));
  auto centered = y - y.mean(0, /*keepdim=*/true);           // (N, D)
  return centered.sub_(centered.mean(0, /*keepdim=*/true));  // (N, D)
}

}  // namespace layerwise::analysis
