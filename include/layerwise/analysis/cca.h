// The CCA family: mean squared canonical correlation, SVCCA and PWCCA, as whole layer matrices.
//
// Every function takes two layer lists (see layers.h), each tensor (N, D_l), and returns a float64
// (La, Lb) matrix on the input device, entry (i, j) comparing a[i] with b[j]. Inputs of any
// floating dtype are computed in float64 throughout (the matrices involved are at most N x D).
//
// Each layer is centered (float64) and whitened once by a thin SVD X = U S V^T, keeping the r
// singular values above max(S) * max(N, D) * eps(float64); its kept columns U_x are an orthonormal
// basis of the layer's column space. Constant or collinear features therefore count as absent (a
// constant column gives exactly the result of dropping it) rather than producing NaN. The canonical
// correlations rho are the singular values of U_x^T U_y, clamped to [0, 1], min(r_x, r_y) of them.
//
// Size rule: N centered samples span N - 1 dimensions, and a layer of rank r = N - 1 fills them,
// which makes every canonical correlation trivially 1. cca_mean and pwcca therefore refuse
// (layerwise::Error naming the layer as "A layer 3" / "B layer 0", N, D and the rank, and
// suggesting svcca or more samples) unless N > r + 1; for features of full rank (r = D) that is
// N >= D + 2. Duplicated or constant columns are judged by rank, not by column count. svcca
// applies the same rule to the k directions it keeps, so it works with N <= D when k is small.
// A constant layer (r = 0) is refused by all three. (With r_x + r_y close to N the correlations
// are still biased upward; prefer N well above D.)
#pragma once

#include <torch/torch.h>

#include "layerwise/analysis/layers.h"

namespace layerwise::analysis {

/// Canonical correlations of x (N, Dx) and y (N, Dy), both centered inside; descending, float64,
/// length min(rank x, rank y).
torch::Tensor canonical_correlations(const torch::Tensor& x, const torch::Tensor& y);

/// Mean of the squared canonical correlations (Yanai's R^2_CCA). 1 for x vs itself. Symmetric;
/// invariant to invertible linear maps of either layer and to adding constants.
torch::Tensor cca_mean(const Layers& a, const Layers& b);

/// SVCCA (Raghu et al. 2017): keep the top k singular directions of each centered layer, k the
/// smallest count whose squared singular values sum to at least `variance` (in (0, 1]) of the
/// total, project (U_k S_k), then the mean (not squared) canonical correlation. Symmetric;
/// invariant to rotations and isotropic scaling, not to general linear maps (they change which
/// directions are kept).
torch::Tensor svcca(const Layers& a, const Layers& b, double variance = 0.99);

/// PWCCA (Morcos et al. 2018, the paper's definition): with U_x^T U_y = P diag(rho) Q^T (thin SVD,
/// m = min(r_x, r_y) directions), the canonical variates of the first argument are the unit vectors
/// h_i = U_x P[:, i] in sample space; weights alpha_i = sum_j |<h_i, x_j>| over x's centered
/// feature columns x_j, normalized to sum 1; the result is sum_i alpha_i rho_i. Not symmetric: the
/// weights always come from a[i] (google/svcca's pwcca.py instead takes them from the side with
/// fewer features). 1 for x vs itself.
torch::Tensor pwcca(const Layers& a, const Layers& b);

}  // namespace layerwise::analysis
