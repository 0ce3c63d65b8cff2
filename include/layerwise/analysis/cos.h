// The sample-wise cosine similarity (COS) of Jiang, Zhou and Zhu (ICLR 2025):
//   COS(a, b) = mean over samples i of <h_i^a, h_i^b> / (|h_i^a| |h_i^b|),
// uncentered, comparing each sample's representation at two layers. Needs equal D for the two
// layers. A sample whose representation is the zero vector at either layer counts as cosine 0.
#pragma once

#include <torch/torch.h>

#include "layerwise/analysis/layers.h"

namespace layerwise::analysis {

/// Per-sample cosines of x (N, D) and y (N, D): (N), in x's compute dtype.
torch::Tensor cos_per_sample(const torch::Tensor& x, const torch::Tensor& y);

/// Rows scaled to unit norm in the measure's dtype (compute_dtype); zero rows stay zero (their
/// cosine counts as 0). (N, D) -> (N, D)
torch::Tensor unit_rows(const torch::Tensor& x);

/// Per-sample cosines of every layer pair: (N, La, Lb), in the compute dtype. All layers need one
/// D.
torch::Tensor cos_per_sample_matrix(const Layers& a, const Layers& b);

/// COS of every layer pair: float64 (La, Lb), the mean over samples of cos_per_sample_matrix.
torch::Tensor cos(const Layers& a, const Layers& b);

}  // namespace layerwise::analysis
