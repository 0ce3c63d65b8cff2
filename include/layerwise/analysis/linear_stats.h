// The second-order statistics that linear CKA, debiased linear CKA and Procrustes share, for every
// layer pair at once. Computing them is the expensive part; the measures are cheap formulas on top.
//
// With X_a the centered layer a (N, D_a), K_a = X_a X_a^T its Gram matrix and r_a = diag(K_a):
//   cross(a, b)   = |X_a^T X_b|_F^2 = <K_a, K_b>_F
//   row_dot(a, b) = r_a . r_b
//   sq_norm(a)    = |X_a|_F^2 = sum r_a
// Two routes give the same numbers; the cheaper one for the shapes at hand is taken:
//   feature space: one product of the concatenated layers, (sum D_a, N) x (N, sum D_b), whose
//   blocks
//                  are the X_a^T X_b; N * sum D_a * sum D_b multiply-adds;
//   Gram space:    the N x N Gram of each layer, then one product of the flattened Grams;
//                  N^2 * (sum D) + N^2 * L_a * L_b multiply-adds (wins when N is small against D).
#pragma once

#include <torch/torch.h>

#include "layerwise/analysis/layers.h"

namespace layerwise::analysis {

struct LinearStats {
  int64_t n_samples = 0;
  torch::Tensor cross;       // (La, Lb) float64
  torch::Tensor self_a;      // (La) float64: cross(a, a)
  torch::Tensor self_b;      // (Lb) float64
  torch::Tensor row_dot;     // (La, Lb) float64
  torch::Tensor self_row_a;  // (La) float64: row_dot(a, a)
  torch::Tensor self_row_b;  // (Lb) float64
  torch::Tensor sq_norm_a;   // (La) float64
  torch::Tensor sq_norm_b;   // (Lb) float64
};

enum class StatsRoute { kAuto, kFeature, kGram };

/// Computes the statistics above for every pair. Inputs are checked with check_layer_pair.
LinearStats linear_stats(const Layers& a, const Layers& b, StatsRoute route = StatsRoute::kAuto);

/// The statistics of one model's layers compared with themselves, from sums over samples, which is
/// what shards of the samples add up to (similarity_sums.h): `product` the (sum D, sum D) X^T X of
/// the concatenated centered layers of `widths`, `row_dot` = R^T R (L, L) and `sq_norm` the column
/// sums of R (L), R (N, L) their squared row norms (squared_row_norms).
LinearStats linear_stats_from_sums(const torch::Tensor& product, const std::vector<int64_t>& widths,
                                   const torch::Tensor& row_dot, const torch::Tensor& sq_norm,
                                   int64_t n_samples);

/// (N, L) float64: the squared row norms of each centered layer (summed over D in the compute
/// dtype).
torch::Tensor squared_row_norms(const Layers& centered);

/// Centers each layer (column means removed, see center_columns).
Layers center_layers(const Layers& layers);

/// (sum D_rows, sum D_cols) -> (L_rows, L_cols): sums `values` over each block of rows and columns,
/// the blocks having the widths given. Two small matrix products, no host synchronization.
torch::Tensor block_sums(const torch::Tensor& values, const std::vector<int64_t>& row_widths,
                         const std::vector<int64_t>& col_widths);

}  // namespace layerwise::analysis
