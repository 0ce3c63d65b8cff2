// Orthogonal Procrustes distance between layers (Ding, Denain and Steinhardt 2021; Williams et al.
// 2021), as a whole layer matrix.
//
// Each layer is centered and scaled to unit Frobenius norm; the value reported is
//   d(X, Y) = min over orthogonal R of |X - Y R|_F^2 = 2 - 2 |X^T Y|_*   (nuclear norm),
// the squared distance, in [0, 2]: 0 for layers equal up to rotation, translation and isotropic
// scale. (Some libraries report its square root, or 1 - |X^T Y|_*, a similarity.) Layers of
// different widths are compared directly: X^T Y is D_a x D_b.
#pragma once

#include <torch/torch.h>

#include "layerwise/analysis/layers.h"

namespace layerwise::analysis {

/// (La, Lb) float64 matrix of Procrustes distances on the input device.
torch::Tensor procrustes(const Layers& a, const Layers& b);

}  // namespace layerwise::analysis
