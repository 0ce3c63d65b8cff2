#include "layerwise/analysis/cca.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "layerwise/core/error.h"

namespace layerwise::analysis {
namespace {

/// One centered layer, whitened: an orthonormal basis of its column space (the part CCA sees).
struct Whitened {
  torch::Tensor basis;     // (N, r) left singular vectors, by decreasing singular value
  torch::Tensor values;    // (r) the kept singular values, descending
  torch::Tensor loadings;  // (r, D) basis^T X_centered = diag(values) Vh: feature j on direction i
  int64_t n = 0;           // samples
  int64_t d = 0;           // features (columns), constant ones included
  int64_t rank = 0;        // r: singular values above the relative tolerance
};

/// Centers x in float64 and takes its thin SVD, keeping singular values above
/// max(S) * max(N, D) * eps(float64). One host synchronization (the rank).
Whitened whiten(const torch::Tensor& x) {
  Whitened w;
  w.n = x.size(0);
  w.d = x.size(1);
  auto x64 = x.to(torch::kFloat64);
  // Shifting by the first sample before centering makes a constant column exactly zero (the mean of
  // equal values can be off by an ulp, which would leave a tiny noise direction that CCA, being
  // scale invariant, would count), and costs nothing in accuracy for the others.
  x64 = center_columns(x64 - x64.slice(0, 0, 1));  // (N, D)
  auto [u, s, vh] = torch::linalg_svd(x64, /*full_matrices=*/false, c10::nullopt);
  const double eps = std::numeric_limits<double>::epsilon();
  if (s.numel() > 0) {
    const auto tol = s.max() * static_cast<double>(std::max(w.n, w.d)) * eps;
    w.rank = (s > tol).sum().item<int64_t>();
  }
  w.basis = u.slice(1, 0, w.rank);                              // (N, r)
  w.values = s.slice(0, 0, w.rank);                             // (r)
  w.loadings = vh.slice(0, 0, w.rank) * w.values.unsqueeze(1);  // (r, D)
  return w;
}

std::vector<Whitened> whiten_all(const Layers& layers) {
  std::vector<Whitened> out;
  out.reserve(layers.size());
  for (const auto& x : layers) out.push_back(whiten(x));
  return out;
}

/// The number of leading singular directions that explain at least `variance` of the layer's
/// variance (the smallest such k; at most the rank).
int64_t svcca_keep(const Whitened& w, double variance) {
  if (w.rank == 0) return 0;
  const auto energy = w.values.square().cpu();  // (r)
  const auto acc = energy.accessor<double, 1>();
  double total = 0.0;
  for (int64_t i = 0; i < w.rank; ++i) total += acc[i];
  double running = 0.0;
  for (int64_t i = 0; i < w.rank; ++i) {
    running += acc[i];
    if (running >= variance * total) return i + 1;
  }
  return w.rank;  // rounding kept the sum just below variance * total (variance == 1)
}

void check_not_constant(const Whitened& w, const char* what, size_t index, const char* measure) {
  LW_CHECK(w.rank > 0, measure, ": ", what, " layer ", index, " is constant (all ", w.d,
           " features have zero variance over N = ", w.n, " samples)");
}

/// CCA degenerates when the layer fills the centered sample space: N samples centered span N - 1
/// dimensions, and a layer of rank N - 1 correlates perfectly with anything.
void check_cca_size(const Whitened& w, const char* what, size_t index, const char* measure) {
  check_not_constant(w, what, index, measure);
  LW_CHECK(
      w.rank + 1 < w.n, measure, ": ", what, " layer ", index, " has N = ", w.n,
      " samples for D = ", w.d, " features (rank ", w.rank,
      " after centering); CCA needs N > rank + 1, otherwise every canonical correlation is "
      "trivially 1. Use svcca, which first keeps the top singular directions, or more samples");
}

void check_svcca_size(int64_t k, const Whitened& w, double variance, const char* what,
                      size_t index) {
  LW_CHECK(k + 1 < w.n, "svcca: ", what, " layer ", index, " has N = ", w.n,
           " samples, and the top ", k, " singular directions of its D = ", w.d,
           " features explain ", variance,
           " of its variance; CCA needs N > k + 1, otherwise every ",
           "canonical correlation is trivially 1. Use a lower variance or more samples");
}

/// Canonical correlations between two whitened bases: singular values of Ux^T Uy, clamped to [0,
/// 1].
torch::Tensor correlations(const torch::Tensor& ux, const torch::Tensor& uy) {
  return torch::linalg_svdvals(ux.t().mm(uy), c10::nullopt).clamp(0.0, 1.0);  // (min(rx, ry))
}

/// PWCCA for one pair: weights from x's canonical variates h_i = Ux P[:, i].
torch::Tensor pwcca_pair(const Whitened& x, const Whitened& y) {
  auto [p, rho, qh] = torch::linalg_svd(x.basis.t().mm(y.basis), /*full_matrices=*/false,
                                        c10::nullopt);  // p (rx, m), rho (m)
  // <h_i, x_j> = P[:, i]^T Ux^T X[:, j]: sum over x's features of |.| for each direction i.
  auto alpha = p.t().mm(x.loadings).abs().sum(1);  // (m)
  alpha = alpha / alpha.sum();
  return (alpha * rho.clamp(0.0, 1.0)).sum();
}

/// Builds the (La, Lb) matrix from `pair(i, j)` (0-dim float64 tensors), without a host
/// synchronization per entry. With `mirror`, only j >= i is computed and copied to (j, i).
template <typename Pair>
torch::Tensor fill_matrix(size_t la, size_t lb, bool mirror, const torch::Device& device,
                          Pair pair) {
  std::vector<torch::Tensor> entries(la * lb);
  for (size_t i = 0; i < la; ++i) {
    for (size_t j = mirror ? i : 0; j < lb; ++j) {
      entries[i * lb + j] = pair(i, j);
      if (mirror && j != i) entries[j * lb + i] = entries[i * lb + j];
    }
  }
  return torch::stack(entries)
      .reshape({static_cast<int64_t>(la), static_cast<int64_t>(lb)})  // (La, Lb)
      .to(device);
}

// Checks and whitens both layer lists for a measure that needs every layer's rank below N - 1
// (cca_mean, pwcca); b's whitening is a's when the lists are the same.
std::pair<std::vector<Whitened>, std::vector<Whitened>> whiten_for_cca(const Layers& a,
                                                                       const Layers& b,
                                                                       const char* measure) {
  check_layer_pair(a, b);
  auto wa = whiten_all(a);
  auto wb = same_layers(a, b) ? wa : whiten_all(b);
  for (size_t i = 0; i < wa.size(); ++i) check_cca_size(wa[i], "A", i, measure);
  for (size_t j = 0; j < wb.size(); ++j) check_cca_size(wb[j], "B", j, measure);
  return {std::move(wa), std::move(wb)};
}

}  // namespace

torch::Tensor canonical_correlations(const torch::Tensor& x, const torch::Tensor& y) {
  check_layer_pair({x}, {y});
  const auto wx = whiten(x);
  const auto wy = whiten(y);
  return correlations(wx.basis, wy.basis);
}

torch::Tensor cca_mean(const Layers& a, const Layers& b) {
  const bool same = same_layers(a, b);
  const auto whitened = whiten_for_cca(a, b, "cca_mean");
  const auto& wa = whitened.first;
  const auto& wb = whitened.second;
  return fill_matrix(a.size(), b.size(), same, a[0].device(), [&](size_t i, size_t j) {
    return correlations(wa[i].basis, wb[j].basis).square().mean();
  });
}

torch::Tensor svcca(const Layers& a, const Layers& b, double variance) {
  LW_CHECK(variance > 0.0 && variance <= 1.0, "svcca: variance must be in (0, 1], got ", variance);
  check_layer_pair(a, b);
  const bool same = same_layers(a, b);
  const auto wa = whiten_all(a);
  const auto wb = same ? wa : whiten_all(b);
  // CCA is invariant to the scaling by S_k, so the projection U_k S_k whitens to U_k.
  auto top = [&](const std::vector<Whitened>& ws, const char* what) {
    std::vector<torch::Tensor> bases;
    for (size_t i = 0; i < ws.size(); ++i) {
      check_not_constant(ws[i], what, i, "svcca");
      const int64_t k = svcca_keep(ws[i], variance);
      check_svcca_size(k, ws[i], variance, what, i);
      bases.push_back(ws[i].basis.slice(1, 0, k));  // (N, k)
    }
    return bases;
  };
  const auto ua = top(wa, "A");
  const auto ub = same ? ua : top(wb, "B");
  return fill_matrix(a.size(), b.size(), same, a[0].device(),
                     [&](size_t i, size_t j) { return correlations(ua[i], ub[j]).mean(); });
}

torch::Tensor pwcca(const Layers& a, const Layers& b) {
  const auto whitened = whiten_for_cca(a, b, "pwcca");
  const auto& wa = whitened.first;
  const auto& wb = whitened.second;
  return fill_matrix(a.size(), b.size(), /*mirror=*/false, a[0].device(),
                     [&](size_t i, size_t j) { return pwcca_pair(wa[i], wb[j]); });
}

}  // namespace layerwise::analysis
