// Every difference between the LibTorch versions we build against lives here:
// Debian's 1.13 (CPU, CI) and PyTorch 2.x (CUDA, the GPU machine).
#pragma once

#include <torch/torch.h>

#ifndef TORCH_VERSION_MAJOR
#include <torch/version.h>
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

/// Waits for queued work on the device (a no-op on CPU). Benchmarks only.
inline void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index() < 0 ? 0 : device.index());
}

}  // namespace layerwise::compat
