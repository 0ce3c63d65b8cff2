// Every difference between the LibTorch versions we build against lives here:
// Debian's 1.13 (CPU, CI) and PyTorch 2.x (CUDA, the GPU machine).
#pragma once

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#ifndef TORCH_VERSION_MAJOR
#include <torch/version.h>
#endif

// c10d's process-group backends (dist/communicator.cpp): 1.13's Gloo and NCCL groups are
// c10d::ProcessGroup objects; from 2.0 they are c10d::Backend objects behind a ProcessGroup.
#if TORCH_VERSION_MAJOR >= 2
#define LAYERWISE_C10D_BACKEND Backend
#else
#define LAYERWISE_C10D_BACKEND ProcessGroup
#endif

namespace layerwise::compat {

constexpr bool kTorch2 = TORCH_VERSION_MAJOR >= 2;

/// Allows or forbids TF32 in float32 matrix products on CUDA (no effect on CPU).
inline void set_cuda_tf32(bool allowed) {
  at::globalContext().setAllowTF32CuBLAS(allowed);
}
inline bool cuda_tf32() {
  return at::globalContext().allowTF32CuBLAS();
}

/// True when a CUDA device is usable from this build.
inline bool cuda_available() {
  return torch::cuda::is_available();
}

/// "cpu" or "cuda[:N]"; throws layerwise::Error for anything else or
/// when CUDA is not usable (a CPU-only LibTorch, or no GPU).
torch::Device parse_device(const std::string& name);

/// Waits for queued work on the device (a no-op on CPU). Benchmarks only.
inline void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index() < 0 ? 0 : device.index());
}

/// Scaled dot-product attention softmax(q k^T / sqrt(d_head) [+ masks]) v on (B, H, T, d_head)
/// tensors: the fused kernel on 2.x, the textbook composition on 1.13. `key_mask` (B, T) bool,
/// true at real tokens, hides padded keys (undefined: none); `causal` hides later keys. Every
/// query must keep at least one key (a real first token does it).
inline torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, bool causal,
                               const torch::Tensor& key_mask = {}) {
  const int64_t t = q.size(-2);
  torch::Tensor allowed;  // (B, 1, T, T) or (T, T) bool: true where a query may attend
  if (key_mask.defined())
    allowed = key_mask.view({key_mask.size(0), 1, 1, t}).expand({-1, 1, t, t});
  if (causal && allowed.defined())
    allowed = allowed & torch::ones({t, t}, q.options().dtype(torch::kBool)).tril();
#if TORCH_VERSION_MAJOR >= 2
  if (!allowed.defined())
    return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, causal);
  return at::scaled_dot_product_attention(q, k, v, allowed, /*dropout_p=*/0.0, false);
#else
  if (causal && !allowed.defined())
    allowed = torch::ones({t, t}, q.options().dtype(torch::kBool)).tril();
  const double scale = 1.0 / std::sqrt(double(q.size(-1)));
  auto scores = torch::matmul(q, k.transpose(-2, -1)) * scale;  // (B, H, T, T)
  if (allowed.defined())
    scores = scores.masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  return torch::matmul(scores.softmax(-1), v);  // (B, H, T, d_head)
#endif
}

/// Whether AdamW has a fused multi-tensor kernel (`at::_fused_adamw_` with a device learning rate,
/// 2.x); 1.13 updates one parameter at a time.
constexpr bool kHasFusedAdamW = TORCH_VERSION_MAJOR >= 2;

/// One fused AdamW update of every tensor in `params` (same device) from `grads`; `steps` holds a
/// float32 step count per parameter (already advanced to this step), `lr` a float32 device scalar.
/// Only where kHasFusedAdamW.
inline void fused_adamw_(at::TensorList params, at::TensorList grads, at::TensorList exp_avgs,
                         at::TensorList exp_avg_sqs, at::TensorList steps, const torch::Tensor& lr,
                         double beta1, double beta2, double weight_decay, double eps) {
#if TORCH_VERSION_MAJOR >= 2
  at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, lr, beta1,
                    beta2, weight_decay, eps, /*amsgrad=*/false, /*maximize=*/false);
#else
  (void)params, (void)grads, (void)exp_avgs, (void)exp_avg_sqs, (void)steps, (void)lr;
  (void)beta1, (void)beta2, (void)weight_decay, (void)eps;
  throw std::logic_error("fused AdamW needs LibTorch 2.x");
#endif
}

/// L2 norms of each tensor, () each: one multi-tensor kernel on 2.x.
inline std::vector<torch::Tensor> norms_of(at::TensorList tensors) {
#if TORCH_VERSION_MAJOR >= 2
  return at::_foreach_norm(tensors, 2);
#else
  std::vector<torch::Tensor> out;
  for (const auto& t : tensors) out.push_back(t.norm());
  return out;
#endif
}

/// Multiplies each tensor in place by the () device tensor `scale` (no host sync).
inline void scale_all_(at::TensorList tensors, const torch::Tensor& scale) {
#if TORCH_VERSION_MAJOR >= 2
  at::_foreach_mul_(tensors, scale);
#else
  for (auto t : tensors) t.mul_(scale);
#endif
}

/// Turns bf16 autocast for CUDA on or off for the calling thread (matrix products in bf16,
/// reductions and norms in float32). No effect on CPU tensors.
inline void set_cuda_bf16_autocast(bool enabled) {
#if TORCH_VERSION_MAJOR >= 2
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
#else
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  at::autocast::set_enabled(enabled);
#endif
  if (!enabled) at::autocast::clear_cache();
}

/// True when bf16 autocast for CUDA is on for the calling thread.
inline bool cuda_bf16_autocast() {
#if TORCH_VERSION_MAJOR >= 2
  return at::autocast::is_autocast_enabled(at::kCUDA) &&
         at::autocast::get_autocast_dtype(at::kCUDA) == at::kBFloat16;
#else
  return at::autocast::is_enabled() && at::autocast::get_autocast_gpu_dtype() == at::kBFloat16;
#endif
}

/// bf16 autocast on CUDA for the lifetime of the object when `enabled` (nothing otherwise), also
/// when an exception leaves the scope.
class Bf16AutocastScope {
 public:
  explicit Bf16AutocastScope(bool enabled) : enabled_(enabled) {
    if (enabled_) set_cuda_bf16_autocast(true);
  }
  ~Bf16AutocastScope() {
    if (enabled_) set_cuda_bf16_autocast(false);
  }
  Bf16AutocastScope(const Bf16AutocastScope&) = delete;
  Bf16AutocastScope& operator=(const Bf16AutocastScope&) = delete;

 private:
  bool enabled_;
};

}  // namespace layerwise::compat
