// A CUDA graph: the kernels of a piece of work recorded once and replayed with one launch, which
// removes the host's per-kernel cost (hundreds of small launches per training step). Only in
// builds against a LibTorch with CUDA (LAYERWISE_CUDA); elsewhere available() is false.
#pragma once

#include <functional>
#include <memory>

#include <torch/torch.h>

namespace layerwise {

class CudaGraph {
 public:
  /// Whether this build can capture graphs (compiled against LibTorch with CUDA).
  static bool available();

  CudaGraph();
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  /// Records `work` on a side stream of `device`: its kernels are captured, not run. Tensors that
  /// `work` allocates live in the graph's own memory pool and keep their addresses across
  /// replays. `work` must not wait on the host (no .item(), no copies to the CPU). Throws
  /// layerwise::Error when this build has no CUDA.
  void capture(const torch::Device& device, const std::function<void()>& work);

  /// Runs the captured kernels again on the current stream.
  void replay();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace layerwise
