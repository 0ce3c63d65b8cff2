#include "layerwise/core/side_stream.h"

#ifdef LAYERWISE_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace layerwise {

#ifdef LAYERWISE_CUDA

SideStreamTensor on_side_stream(const torch::Device& device,
                                const std::function<torch::Tensor()>& work) {
  if (!device.is_cuda()) return {work(), nullptr};
  const c10::cuda::CUDAGuard device_guard(device);
  const auto stream = c10::cuda::getStreamFromPool();
  const c10::cuda::CUDAStreamGuard stream_guard(stream);
  auto tensor = work();
  auto ready = std::make_shared<at::cuda::CUDAEvent>();
  ready->record(stream);
  return {std::move(tensor), std::move(ready)};
}

torch::Tensor use_on_current_stream(const SideStreamTensor& made) {
  if (!made.ready || !made.tensor.is_cuda()) return made.tensor;
  const auto current = c10::cuda::getCurrentCUDAStream(made.tensor.device().index());
  static_cast<at::cuda::CUDAEvent*>(made.ready.get())->block(current);
  made.tensor.record_stream(current);
  return made.tensor;
}

#else

SideStreamTensor on_side_stream(const torch::Device&, const std::function<torch::Tensor()>& work) {
  return {work(), nullptr};
}

torch::Tensor use_on_current_stream(const SideStreamTensor& made) {
  return made.tensor;
}

#endif

}  // namespace layerwise
