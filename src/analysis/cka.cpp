#include "layerwise/analysis/cka.h"

#include <algorithm>
#include <cmath>

#include "layerwise/core/error.h"

namespace layerwise::analysis {

namespace {

// Refuses a layer whose self-similarity term is not positive (constant over the samples).
// One host synchronization for the whole vector.
void check_positive(const torch::Tensor& self_terms, const std::string& what) {
  const auto values = self_terms.cpu();
  const auto* v = values.data_ptr<double>();
  for (int64_t l = 0; l < values.numel(); ++l)
    LW_CHECK(v[l] > 0, what, " layer ", l,
             " is constant over the samples (no variance after centering): CKA is undefined");
}

// numerator / sqrt(self_a (x) self_b), the normalization every CKA form shares.
torch::Tensor normalize(const torch::Tensor& numerator, const torch::Tensor& self_a,
                        const torch::Tensor& self_b) {
  check_positive(self_a, "A");
  check_positive(self_b, "B");
  return numerator / torch::outer(self_a, self_b).sqrt();  // (La, Lb)
}

// Unbiased HSIC times n (n - 3), from the linear statistics (Song et al. 2012, with centered
// features, where 1^T K = 0): tr(KL) - n/(n-2) r_K.r_L + |X|^2 |Y|^2 / ((n-1)(n-2)).
torch::Tensor debiased_term(const torch::Tensor& cross, const torch::Tensor& row_dot,
                            const torch::Tensor& sq_norm_product, double n) {
  return cross - n / (n - 2) * row_dot + sq_norm_product / ((n - 1) * (n - 2));
}

// The k-th smallest (0-based) of the strict upper triangle of a square CPU matrix, and the next
// one, by selection in place of a sort (torch's CPU kthvalue was measured 4x slower than this).
template <typename Scalar>
std::pair<double, double> upper_kth_pair_cpu(const torch::Tensor& d2, int64_t k) {
  const auto values = d2.contiguous();
  const int64_t n = values.size(0);
  const Scalar* data = values.data_ptr<Scalar>();
  std::vector<Scalar> upper;
  upper.reserve(static_cast<size_t>(n * (n - 1) / 2));
  for (int64_t i = 0; i + 1 < n; ++i)
    upper.insert(upper.end(), data + i * n + i + 1, data + (i + 1) * n);
  const auto kth = upper.begin() + k;
  std::nth_element(upper.begin(), kth, upper.end());
  const double next = kth + 1 < upper.end() ? *std::min_element(kth + 1, upper.end()) : *kth;
  return {static_cast<double>(*kth), next};
}

// The median of the N x N matrix of squared distances d2 (zero diagonal), numpy-style (the mean of
// the two middle values for an even count), read off its strict upper triangle: in sorted order the
// full matrix holds the N diagonal zeros, then every off-diagonal value twice. Float64 scalar.
torch::Tensor median_of_distances(const torch::Tensor& d2) {
  const int64_t n = d2.size(0);
  const int64_t count = n * n;
  const int64_t low = count % 2 == 1 ? count / 2 : count / 2 - 1;  // positions in the full order
  const int64_t high = count / 2;
  const auto f64 = torch::TensorOptions(torch::kFloat64).device(d2.device());
  if (high < n) return torch::zeros({}, f64);  // at most one off-diagonal pair: the median is 0
  double low_value = 0, high_value = 0;
  if (d2.is_cuda()) {
    // CUDA's kthvalue is slow on one long row (122 ms against 1 ms for a sort of 16M values, H200).
    const auto index =
        torch::triu_indices(n, n, 1, torch::TensorOptions(torch::kLong).device(d2.device()));
    const auto sorted = std::get<0>(d2.index({index[0], index[1]}).sort());
    const auto pick = [&](int64_t position) {
      return position < n ? torch::zeros({}, f64) : sorted[(position - n) / 2].to(torch::kFloat64);
    };
    return (pick(low) + pick(high)) / 2;
  }
  const int64_t k = (std::max(low, n) - n) / 2;  // upper index of the lower middle (or of high)
  const auto [kth, next] = d2.scalar_type() == torch::kFloat64 ? upper_kth_pair_cpu<double>(d2, k)
                                                               : upper_kth_pair_cpu<float>(d2, k);
  const auto upper_at = [&](int64_t position) {
    if (position < n) return 0.0;
    return (position - n) / 2 == k ? kth : next;  // high is at most one step past low
  };
  low_value = upper_at(low);
  high_value = upper_at(high);
  return torch::full({}, (low_value + high_value) / 2, f64);
}

// Rows whose product is -gamma |x_i - x_j|^2 = 2 gamma x_i.x_j - gamma r_i - gamma r_j:
// left_i = [2 gamma x_i, -gamma r_i, 1] and right_j = [x_j, 1, -gamma r_j], (N, D+2) each. One
// matrix product then writes the kernel exponent (or, with gamma = -1, the squared distances):
// broadcast additions of the norms afterwards were measured slower than the product itself on CPU.
// x is centered first, which keeps r small (distances are translation invariant).
std::pair<torch::Tensor, torch::Tensor> augmented_rows(const torch::Tensor& centered,
                                                       const torch::Tensor& gamma) {
  const auto g = gamma.to(centered.scalar_type());
  const auto norms = (centered * centered).sum(1, /*keepdim=*/true);  // (N, 1)
  const auto ones = torch::ones_like(norms);
  const auto minus = -g * norms;  // (N, 1)
  return {torch::cat({2 * g * centered, minus, ones}, 1), torch::cat({centered, ones, minus}, 1)};
}

// Squared distances between the rows of centered x (N, D): (N, N).
torch::Tensor squared_distances(const torch::Tensor& centered) {
  const auto rows = augmented_rows(centered, torch::full({}, -1.0, centered.options()));
  return torch::mm(rows.first, rows.second.t());  // (N, N)
}

}  // namespace

torch::Tensor cka_linear(const LinearStats& stats) {
  return normalize(stats.cross, stats.self_a, stats.self_b);
}

torch::Tensor cka_linear(const Layers& a, const Layers& b) {
  return cka_linear(linear_stats(a, b));
}

torch::Tensor cka_debiased(const LinearStats& stats) {
  const double n = static_cast<double>(stats.n_samples);
  LW_CHECK(stats.n_samples > 3, "debiased CKA needs more than 3 samples, got ", stats.n_samples);
  const auto cross =
      debiased_term(stats.cross, stats.row_dot, torch::outer(stats.sq_norm_a, stats.sq_norm_b), n);
  const auto self_a = debiased_term(stats.self_a, stats.self_row_a, stats.sq_norm_a.pow(2), n);
  const auto self_b = debiased_term(stats.self_b, stats.self_row_b, stats.sq_norm_b.pow(2), n);
  return normalize(cross, self_a, self_b);
}

torch::Tensor cka_debiased(const Layers& a, const Layers& b) {
  return cka_debiased(linear_stats(a, b));  // linear_stats checks the layers, the stats form N > 3
}

torch::Tensor rbf_sigma2(const torch::Tensor& x, const RbfOptions& options) {
  LW_CHECK(options.threshold > 0, "RBF threshold must be positive, got ", options.threshold);
  LW_CHECK(options.median_samples >= 2, "RBF median_samples must be at least 2, got ",
           options.median_samples);
  const int64_t n = x.size(0);
  const int64_t m = std::min(n, options.median_samples);
  auto rows = x.to(compute_dtype(x));
  if (m < n) {
    const auto index = torch::arange(m, torch::TensorOptions(torch::kLong).device(x.device()))
                           .mul(n)
                           .div(m, "floor");  // (m) evenly spaced rows
    rows = rows.index_select(0, index);       // (m, D)
  }
  const auto d2 = squared_distances(center_columns(rows));  // (m, m)
  return median_of_distances(d2) * (options.threshold * options.threshold);
}

torch::Tensor cka_rbf(const Layers& a, const Layers& b, const RbfOptions& options) {
  check_layer_pair(a, b);
  const bool same = same_layers(a, b);
  Layers all = center_layers(a);  // a's layers, then b's unless it is the same list
  if (!same)
    for (const auto& x : center_layers(b)) all.push_back(x);
  const int64_t n = a.front().size(0);
  const int64_t n_layers = static_cast<int64_t>(all.size());
  const auto device = all.front().device();

  std::vector<torch::Tensor> left, right;  // (N, D_l + 2) each, see augmented_rows
  for (const auto& x : all) {
    const auto sigma2 = rbf_sigma2(x, options);
    const auto rows = augmented_rows(x, 0.5 / sigma2);
    left.push_back(rows.first);
    right.push_back(rows.second);
  }
  int64_t tile = options.tile_rows;
  if (tile <= 0)
    tile = std::max<int64_t>(64, static_cast<int64_t>(std::sqrt((1 << 28) / n_layers)));
  tile = std::min(tile, n);  // default: L tiles of tile x tile float32 in about 1 GiB

  // Both kernels are symmetric, so <K, L> sums over the tiles (I, J) with J >= I, counting the
  // tiles off the diagonal twice; each such tile adds its row sums to I and its column sums to J.
  // A tile is laid out (rows, L, cols): the L x L products of a row are then one small batched
  // product, (rows, L, cols) x (rows, cols, L), which parallelizes where one (L, rows*cols) x
  // (rows*cols, L) product with its huge inner dimension would not.
  const auto f64 = torch::TensorOptions(torch::kFloat64).device(device);
  auto products = torch::zeros({n_layers, n_layers}, f64);  // sum_ij K_ij L_ij
  auto row_sums = torch::zeros({n_layers, n}, f64);         // K 1
  auto buffer = torch::empty({tile * n_layers * tile}, all.front().options());
  for (int64_t i0 = 0; i0 < n; i0 += tile) {
    const int64_t rows = std::min(tile, n - i0);
    for (int64_t j0 = i0; j0 < n; j0 += tile) {
      const int64_t cols = std::min(tile, n - j0);
      auto block = buffer.narrow(0, 0, rows * n_layers * cols).view({rows, n_layers, cols});
      for (int64_t l = 0; l < n_layers; ++l) {
        auto out = block.select(1, l);  // (rows, cols), row stride L * cols
        torch::mm_out(out, left[l].narrow(0, i0, rows), right[l].narrow(0, j0, cols).t());
      }
      block.exp_();
      const double weight = i0 == j0 ? 1.0 : 2.0;
      const auto per_row = torch::bmm(block, block.transpose(1, 2));  // (rows, L, L)
      products.add_(per_row.sum(0).to(torch::kFloat64), weight);
      // Sums of at most `tile` kernel values in [0, 1] are exact enough in float32.
      row_sums.narrow(1, i0, rows).add_(block.sum(2).t().to(torch::kFloat64));
      if (i0 != j0) row_sums.narrow(1, j0, cols).add_(block.sum(0).to(torch::kFloat64));
    }
  }
  // <HKH, HLH> = <K, L> - 2/n (K1).(L1) + (1'K1)(1'L1)/n^2
  const auto totals = row_sums.sum(1);  // (L)
  const double nd = static_cast<double>(n);
  const auto centered = products - 2.0 / nd * torch::mm(row_sums, row_sums.t()) +
                        torch::outer(totals, totals) / (nd * nd);  // (L, L)
  const int64_t la = static_cast<int64_t>(a.size());
  const auto diag = centered.diagonal();
  if (same) return normalize(centered, diag, diag);
  return normalize(centered.narrow(0, 0, la).narrow(1, la, n_layers - la), diag.narrow(0, 0, la),
                   diag.narrow(0, la, n_layers - la));
}

std::vector<std::pair<int64_t, int64_t>> minibatch_ranges(int64_t n, int64_t batch) {
  LW_CHECK(batch > 3, "minibatch size must be more than 3, got ", batch);
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (int64_t start = 0, rows = 0; start < n; start += rows) {
    rows = std::min(batch, n - start);
    if (n - (start + rows) <= 3) rows = n - start;  // fold a tail too small for unbiased HSIC
    ranges.emplace_back(start, start + rows);
  }
  return ranges;
}

torch::Tensor cka_from_hsic(const torch::Tensor& hsic) {
  const auto diag = hsic.diagonal();
  return normalize(hsic, diag, diag);  // (L, L)
}

torch::Tensor unbiased_hsic_matrix(const Layers& layers) {
  const int64_t n = layers.front().size(0);
  LW_CHECK(n > 3, "unbiased HSIC needs more than 3 samples per batch, got ", n);
  const double nd = static_cast<double>(n);
  std::vector<torch::Tensor> flat;
  for (const auto& layer : layers) {
    const auto x = layer.to(compute_dtype(layer));
    auto gram = torch::mm(x, x.t());  // (n, n)
    gram.fill_diagonal_(0);
    const auto row = gram.sum(1, false, torch::kFloat64);  // (n)
    const auto total = row.sum();
    // U-centering: subtract row and column means over n-2, add the grand mean over (n-1)(n-2).
    auto u = gram.to(torch::kFloat64) - row.unsqueeze(1) / (nd - 2) - row.unsqueeze(0) / (nd - 2) +
             total / ((nd - 1) * (nd - 2));  // (n, n)
    u.fill_diagonal_(0);
    flat.push_back(u.to(x.scalar_type()).reshape({-1}));
  }
  const auto stacked = torch::stack(flat);                                       // (L, n*n)
  return torch::mm(stacked, stacked.t()).to(torch::kFloat64) / (nd * (nd - 3));  // (L, L)
}

void MinibatchCka::update(const Layers& a, const Layers& b) {
  check_layer_pair(a, b);
  const bool same = same_layers(a, b);
  Layers all(a.begin(), a.end());
  if (!same) all.insert(all.end(), b.begin(), b.end());
  const auto hsic = unbiased_hsic_matrix(all);
  if (!hsic_.defined()) {
    hsic_ = hsic;
    n_layers_a_ = static_cast<int64_t>(a.size());
    same_ = same;
  } else {
    LW_CHECK(same == same_ && hsic.size(0) == hsic_.size(0) &&
                 static_cast<int64_t>(a.size()) == n_layers_a_,
             "minibatch CKA: every batch must hold the same layers as the first");
    hsic_ += hsic.to(hsic_.device());
  }
  n_samples_ += a.front().size(0);
}

torch::Tensor MinibatchCka::result() const {
  LW_CHECK(hsic_.defined(), "minibatch CKA: no batch was added");
  if (same_) return cka_from_hsic(hsic_);
  const auto diag = hsic_.diagonal();
  const int64_t total = hsic_.size(0);
  return normalize(hsic_.narrow(0, 0, n_layers_a_).narrow(1, n_layers_a_, total - n_layers_a_),
                   diag.narrow(0, 0, n_layers_a_),
                   diag.narrow(0, n_layers_a_, total - n_layers_a_));
}

}  // namespace layerwise::analysis
