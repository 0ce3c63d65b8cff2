#include "layerwise/core/cuda_graph.h"

#include "layerwise/core/error.h"

#ifdef LAYERWISE_CUDA
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace layerwise {

#ifdef LAYERWISE_CUDA

struct CudaGraph::Impl {
  at::cuda::CUDAGraph graph;
};

bool CudaGraph::available() {
  return true;
}

void CudaGraph::capture(const torch::Device& device, const std::function<void()>& work) {
  LW_CHECK(device.is_cuda(), "CUDA graphs need a CUDA device, got ", device.str());
  const c10::cuda::CUDAGuard device_guard(device);
  impl_ = std::make_unique<Impl>();
  // Capture needs a stream other than the legacy default one; the side stream starts after the
  // work queued so far and the caller's stream continues after the capture.
  torch::cuda::synchronize(device.index() < 0 ? 0 : device.index());
  {
    const c10::cuda::CUDAStreamGuard stream_guard(c10::cuda::getStreamFromPool());
    // Autocast's cache of bf16 weight copies lives only as long as the autocast region: a graph
    // that read a cached copy would read freed memory later. Casting inside the graph is safe.
    const bool autocast_cache = at::autocast::is_autocast_cache_enabled();
    at::autocast::set_autocast_cache_enabled(false);
    impl_->graph.capture_begin();
    try {
      work();
    } catch (...) {
      at::autocast::set_autocast_cache_enabled(autocast_cache);
      try {
        impl_->graph.capture_end();
      } catch (...) {
      }
      impl_.reset();
      throw;
    }
    impl_->graph.capture_end();
    at::autocast::set_autocast_cache_enabled(autocast_cache);
  }
  torch::cuda::synchronize(device.index() < 0 ? 0 : device.index());
}

void CudaGraph::replay() {
  LW_CHECK(impl_ != nullptr, "CudaGraph::replay before a capture");
  impl_->graph.replay();
}

#else

struct CudaGraph::Impl {};

bool CudaGraph::available() {
  return false;
}

void CudaGraph::capture(const torch::Device&, const std::function<void()>&) {
  throw Error("CUDA graphs need a build against LibTorch with CUDA");
}

void CudaGraph::replay() {
  throw Error("CUDA graphs need a build against LibTorch with CUDA");
}

#endif

CudaGraph::CudaGraph() = default;
CudaGraph::~CudaGraph() = default;

}  // namespace layerwise
