// Centered kernel alignment (Kornblith et al. 2019) in its linear, RBF, debiased and minibatch
// forms, as whole layer matrices: each function takes two layer lists (see layers.h) and returns a
// float64 (La, Lb) matrix on the input device, entry (i, j) comparing a[i] with b[j].
//
// A layer that is constant over the samples has no centered variance and no CKA: it is refused with
// an error naming it.
#pragma once

#include <utility>
#include <vector>

#include <torch/torch.h>

#include "layerwise/analysis/layers.h"
#include "layerwise/analysis/linear_stats.h"

namespace layerwise::analysis {

/// Linear CKA: |Y^T X|_F^2 / (|X^T X|_F |Y^T Y|_F) on centered layers.
torch::Tensor cka_linear(const Layers& a, const Layers& b);
torch::Tensor cka_linear(const LinearStats& stats);

/// Debiased linear CKA: the same ratio with the unbiased HSIC estimator (Song et al. 2012) in place
/// of the biased one. Can be slightly negative. Needs N > 3.
torch::Tensor cka_debiased(const Layers& a, const Layers& b);
torch::Tensor cka_debiased(const LinearStats& stats);

struct RbfOptions {
  /// Bandwidth: sigma^2 = threshold^2 * median of the squared distances (Kornblith's convention).
  double threshold = 0.5;
  /// The median is taken over all N^2 squared distances (diagonal zeros included) when
  /// N <= median_samples, as the reference code does; above that over the distances among
  /// median_samples rows spaced evenly through the data, so cost and memory stay bounded.
  int64_t median_samples = 4096;
  /// Rows of the N x N kernels held at once, per layer; 0 picks a tile of about 256 MiB per layer.
  int64_t tile_rows = 0;
};

/// RBF-kernel CKA: <HKH, HLH> / (|HKH|_F |HLH|_F), K and L Gaussian kernels of each layer. The N x
/// N kernels are never held whole: rows are processed in tiles, accumulating only L x L sums.
torch::Tensor cka_rbf(const Layers& a, const Layers& b, const RbfOptions& options = {});

/// Squared bandwidth sigma^2 of one layer (N, D) under `options` (see RbfOptions). Float64 scalar.
torch::Tensor rbf_sigma2(const torch::Tensor& x, const RbfOptions& options = {});

/// Minibatch CKA (Nguyen, Raghu and Kornblith 2021): the unbiased HSIC of the linear kernel summed
/// over minibatches, CKA = sum HSIC(K, L) / sqrt(sum HSIC(K, K) * sum HSIC(L, L)). Memory is
/// O((La + Lb)^2) whatever the number of samples. With one batch holding every sample it equals
/// cka_debiased.
class MinibatchCka {
 public:
  /// Adds one batch: a[l] is (n, Da_l) and b[l] (n, Db_l) for the same n > 3 samples.
  /// Pass the same list twice for a within-model comparison.
  void update(const Layers& a, const Layers& b);

  /// (La, Lb) float64. Throws when no batch was added.
  torch::Tensor result() const;

  int64_t n_samples() const { return n_samples_; }

 private:
  torch::Tensor hsic_;  // (La + Lb, La + Lb) float64, or (L, L) within one model
  int64_t n_layers_a_ = 0;
  bool same_ = false;
  int64_t n_samples_ = 0;
};

/// The minibatches cka_minibatch takes from n samples, as [start, start + rows) pairs: `batch` rows
/// each from the first sample on, the last one taking a tail of 3 or fewer samples (too few for
/// unbiased HSIC) into itself.
std::vector<std::pair<int64_t, int64_t>> minibatch_ranges(int64_t n, int64_t batch);

/// CKA of every pair of one model's layers from the (L, L) unbiased HSIC sums of MinibatchCka.
torch::Tensor cka_from_hsic(const torch::Tensor& hsic);

/// The unbiased HSIC of the linear kernel for every pair of the given layers, one batch:
/// (L, L) float64, from U-centered Gram matrices.
torch::Tensor unbiased_hsic_matrix(const Layers& layers);

}  // namespace layerwise::analysis
