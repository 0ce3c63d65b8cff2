// Device work done off the caller's stream: a batch's host-to-device copy and its first kernels
// run on a side stream of the GPU, so that they overlap the model's kernels on the stream that
// will use the batch instead of queueing behind them. Only in builds against a LibTorch with CUDA
// (LAYERWISE_CUDA) and for CUDA devices; elsewhere the work runs as it is and nothing waits.
#pragma once

#include <functional>
#include <memory>

#include <torch/torch.h>

namespace layerwise {

/// A tensor made on a side stream, with the mark of its completion there.
struct SideStreamTensor {
  torch::Tensor tensor;
  std::shared_ptr<void> ready;  // the CUDA event recorded after the work; null when none
};

/// Runs `work` (which returns a tensor on `device`) with a side stream of `device` as the calling
/// thread's current stream. Any thread may call it.
SideStreamTensor on_side_stream(const torch::Device& device,
                                const std::function<torch::Tensor()>& work);

/// The tensor, usable on the calling thread's current stream: that stream waits (on the device,
/// not the host) for the side stream's work, and the caching allocator learns that the tensor is
/// used there, so that its memory is not handed out again while that stream still reads it.
torch::Tensor use_on_current_stream(const SideStreamTensor& made);

}  // namespace layerwise
