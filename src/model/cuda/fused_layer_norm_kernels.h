// Launchers of the fused residual-add + LayerNorm CUDA kernels (fused_layer_norm_kernels.cu).
//
// Plain C++ on purpose: raw pointers, sizes and a cudaStream_t, so that the .cu file compiles with
// nvcc alone (no LibTorch headers) and this header is cheap to include. The tensors behind the
// pointers are row-major (rows, width) and contiguous; model/fused_layer_norm.cpp checks that and
// allocates every output. Errors (a bad launch, a width beyond the kernels' limit) come back as a
// message, empty on success, so that the caller throws its own exception type.
#pragma once

#include <cstdint>
#include <string>

#include <cuda_runtime_api.h>

namespace layerwise::model::cuda {

/// Element types the kernels read and write. Statistics, weight and bias are always float32.
enum class DType { float32, bfloat16 };

/// The widest row the kernels handle: 16384 when every pointer of the call is 16-byte aligned and
/// width % 8 == 0 (8-element vector loads), else 8192 (scalar loads). Wider rows take the ATen
/// path.
int64_t fused_layer_norm_max_width(bool vectorized);

struct AddLayerNormForwardArgs {
  int64_t rows = 0, width = 0;
  const void* x = nullptr;  // (rows, width) x_dtype
  DType x_dtype = DType::float32;
  const void* delta = nullptr;  // (rows, width) delta_dtype, or null: plain LayerNorm of x
  DType delta_dtype = DType::float32;
  const float* weight = nullptr;  // (width)
  const float* bias = nullptr;    // (width)
  float eps = 1e-5f;
  void* sum = nullptr;     // (rows, width) x_dtype: x + delta; null when delta is null
  void* normed = nullptr;  // (rows, width) out_dtype
  DType out_dtype = DType::bfloat16;
  float* mean = nullptr;  // (rows)
  float* rstd = nullptr;  // (rows): 1 / sqrt(var + eps), biased variance
};

/// sum = x + delta (in float32, rounded to x_dtype), normed = (sum - mean) * rstd * weight + bias.
/// The statistics are those of the rounded sum, as LayerNorm of the stored sum would compute them.
std::string add_layer_norm_forward(const AddLayerNormForwardArgs& args, cudaStream_t stream);

struct AddLayerNormBackwardArgs {
  int64_t rows = 0, width = 0;
  const void* grad_normed = nullptr;  // (rows, width) grad_normed_dtype
  DType grad_normed_dtype = DType::bfloat16;
  const void* grad_sum = nullptr;  // (rows, width) grad_sum_dtype, or null (zero)
  DType grad_sum_dtype = DType::float32;
  const void* sum = nullptr;  // (rows, width) sum_dtype: the forward's sum (x without delta)
  DType sum_dtype = DType::float32;
  const float* mean = nullptr;    // (rows)
  const float* rstd = nullptr;    // (rows)
  const float* weight = nullptr;  // (width)
  void* grad_x = nullptr;         // (rows, width) grad_x_dtype: grad_sum + LayerNorm backward
  DType grad_x_dtype = DType::float32;
  void* grad_delta = nullptr;  // (rows, width) grad_delta_dtype: the same values, or null
  DType grad_delta_dtype = DType::float32;
  float* grad_weight = nullptr;  // (width)
  float* grad_bias = nullptr;    // (width)
  // Scratch of at least add_layer_norm_backward_workspace(rows, width) floats: the per-block
  // partial sums of grad_weight and grad_bias, summed by a second kernel (no atomics).
  float* workspace = nullptr;
};

/// Floats of scratch add_layer_norm_backward needs for this shape on the current device.
int64_t add_layer_norm_backward_workspace(int64_t rows, int64_t width);

/// grad_x = grad_sum + rstd * (g w - mean(g w) - xhat mean(g w xhat)) with xhat the normalized sum,
/// g = grad_normed; grad_weight = sum over rows of g xhat, grad_bias = sum over rows of g.
/// Deterministic: the same inputs give bitwise the same outputs on the same device.
std::string add_layer_norm_backward(const AddLayerNormBackwardArgs& args, cudaStream_t stream);

}  // namespace layerwise::model::cuda
