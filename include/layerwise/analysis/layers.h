// A list of layer representations and the checks every similarity measure runs on it.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

namespace layerwise::analysis {

/// One model's layers: tensor l is (N, D_l); N equal across layers, D may differ.
using Layers = std::vector<torch::Tensor>;

/// Checks that `layers` is a non-empty list of finite, floating-point (N, D_l) tensors with equal N
/// on one device; throws layerwise::Error naming `what` (e.g. "A"), the layer index and the sample
/// at fault. Runs one host synchronization for the whole list, not one per layer.
void check_layers(const Layers& layers, const std::string& what);

/// Checks `a` and `b` each (see check_layers) and that they agree on N and the device.
void check_layer_pair(const Layers& a, const Layers& b);

/// True when `a` and `b` are the very same tensors (a within-model comparison): measures then
/// compute one triangle of the matrix and mirror it.
bool same_layers(const Layers& a, const Layers& b);

/// Subtracts the column means, computed in float64, and returns the result in the input's dtype.
torch::Tensor center_columns(const torch::Tensor& x);  // (N, D) -> (N, D)

/// The dtype a measure computes in for `x`: float64 stays float64, everything else is float32.
torch::ScalarType compute_dtype(const torch::Tensor& x);

}  // namespace layerwise::analysis
