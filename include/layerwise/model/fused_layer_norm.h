// Residual add + LayerNorm in one op, with the normalized output in the dtype the next layer reads.
//
// A pre-norm block computes h = x + attn_out, then LayerNorm(h) for the MLP. Under bf16 autocast
// ATen runs that as an add kernel, a float32 LayerNorm and a float32 -> bf16 cast (the next
// linear's autocast), each a pass over memory, and the backward as LayerNorm backward, separate
// gamma/beta reductions and an add of the residual gradient. add_layer_norm does the forward in one
// pass and the backward in one pass plus a small reduction (CUDA kernels in src/model/cuda/).
#pragma once

#include <torch/torch.h>

namespace layerwise::model {

struct AddNormResult {
  torch::Tensor
      sum;  // (..., D) x's dtype: x + delta, the new residual stream (x itself without delta)
  torch::Tensor normed;  // (..., D) out_dtype: LayerNorm(sum) * weight + bias
};

/// sum = x + delta, added in float32 and returned in x's dtype; normed = (sum - mean) / sqrt(var +
/// eps) * weight + bias over the last dimension (mean and biased variance of each row in float32,
/// computed from sum as stored), returned in out_dtype. Differentiable in x, delta, weight, bias.
///
/// x (..., D) and delta (same shape) are float32 or bfloat16, independently (any floating dtype on
/// the ATen path); delta may be undefined: then sum is x and normed is LayerNorm(x) in out_dtype
/// (a block's first norm). weight, bias: (D); out_dtype floating (kBFloat16 under autocast, where
/// the next linear reads bf16 anyway, else kFloat32).
///
/// The fused CUDA path is taken when fused_layer_norm_available(), x is a CUDA tensor, x and delta
/// are float32 or bfloat16, weight and bias are defined float32 tensors on x's device, out_dtype is
/// float32 or bfloat16, D <= 8192 (16384 with 16-byte aligned data and D % 8 == 0), and x has at
/// least one element. It is not twice differentiable (create_graph through it throws). Every other
/// case, CPU included, is the ATen composition x + delta, torch::layer_norm in float32,
/// .to(out_dtype): bitwise what the unfused code computes, autograd included. Autocast needs no
/// special handling on either path: the fused path dispatches no autocast-listed op, and autocast
/// already runs layer_norm in float32 on the ATen path.
///
/// Backward of the fused path: grad_x = grad_sum + LayerNorm backward(grad_normed) in float32, cast
/// to x's dtype; grad_delta the same values in delta's dtype (the same tensor when the dtypes
/// agree); grad_weight and grad_bias float32 sums over all rows, deterministic (two-stage, no
/// atomics). Saved for backward: sum (alive anyway as the residual stream) and float32 mean and
/// rstd per row.
AddNormResult add_layer_norm(const torch::Tensor& x, const torch::Tensor& delta,
                             const torch::Tensor& weight, const torch::Tensor& bias, double eps,
                             c10::ScalarType out_dtype);

/// True when this build has the fused CUDA kernels (a CUDA LibTorch and a CUDA compiler at
/// configure time: cmake/cuda_kernels.cmake).
bool fused_layer_norm_available();

}  // namespace layerwise::model
