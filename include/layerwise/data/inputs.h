// The inputs of a split as a model reads them, one batch at a time: either a tensor already
// model-ready (Fashion-MNIST at its own size, token ids), or images kept at their stored size and
// made model-ready per batch by an ImagePipeline on the loader's threads and the model's device.
// Every consumer (training, evaluation, extraction, early exit) asks for batches, so that both
// kinds run through the same code.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "layerwise/data/image_pipeline.h"

namespace layerwise::data {

/// Images at their stored size: uint8 (H, W, C) each, any size and channel count (1..4).
using StoredImages = std::vector<torch::Tensor>;

class Inputs {
 public:
  Inputs() = default;
  /// A model-ready tensor (N, ...) on any device.
  Inputs(torch::Tensor tensor);  // NOLINT: implicit, a tensor is the common case
  /// The images images[index[i]], i < index.numel(), made model-ready by `pipeline`. Throws
  /// naming the first image whose model-ready shape differs from the first one's (images of
  /// different sizes need a resize to one size or a crop).
  Inputs(std::shared_ptr<const StoredImages> images, torch::Tensor index, ImagePipeline pipeline);

  bool defined() const { return tensor_.defined() || images_ != nullptr; }
  int64_t size() const;
  /// One model-ready sample's shape, e.g. {3, 224, 224} or {T}.
  std::vector<int64_t> sample_shape() const;
  /// True when batches are made from stored images (per batch, on threads).
  bool per_batch() const { return images_ != nullptr; }
  /// The tensor of a model-ready input (not per_batch).
  const torch::Tensor& tensor() const;

  /// Samples [begin, end), sharing the storage.
  Inputs slice(int64_t begin, int64_t end) const;
  /// Samples [begin, end) model-ready on `device`: (B, ...). Images are prepared on the
  /// intra-op threads into pinned memory when the device is CUDA, copied asynchronously and
  /// normalized there.
  torch::Tensor batch(int64_t begin, int64_t end, torch::Device device) const;
  /// The samples at `rows` (int64, 1-D, any device) model-ready on `device`.
  torch::Tensor gather(const torch::Tensor& rows, torch::Device device) const;
  /// The whole input model-ready on `device` (for the small sets that are timed or trained on
  /// from device memory).
  torch::Tensor materialize(torch::Device device) const { return batch(0, size(), device); }

 private:
  torch::Tensor tensor_;
  std::shared_ptr<const StoredImages> images_;
  torch::Tensor index_;  // (N) int64 on the CPU: which stored images, in order
  ImagePipeline pipeline_;
  std::vector<int64_t> sample_shape_;
};

}  // namespace layerwise::data
