#include "layerwise/data/inputs.h"

#include <cstring>

#include "layerwise/core/error.h"
#include "layerwise/core/parallel.h"

namespace layerwise::data {

Inputs::Inputs(torch::Tensor tensor) : tensor_(std::move(tensor)) {}

Inputs::Inputs(std::shared_ptr<const StoredImages> images, torch::Tensor index,
               ImagePipeline pipeline)
    : images_(std::move(images)),
      index_(index.to(torch::kCPU, torch::kInt64).contiguous()),
      pipeline_(std::move(pipeline)) {
  LW_CHECK(images_ != nullptr && index_.dim() == 1, "Inputs: stored images and a 1-D index needed");
  const auto* rows = index_.data_ptr<int64_t>();
  const auto n_images = int64_t(images_->size());
  for (int64_t i = 0; i < index_.numel(); ++i) {
    LW_CHECK(rows[i] >= 0 && rows[i] < n_images, "Inputs: image ", rows[i], " of ", n_images);
    const auto& image = (*images_)[rows[i]];
    const auto shape = pipeline_.output_shape(image.size(0), image.size(1));
    if (i == 0) sample_shape_ = shape;
    LW_CHECK(shape == sample_shape_, "images of different sizes: image ", rows[i], " is ",
             image.size(0), " x ", image.size(1), ", ", sample_shape_[1], " x ", sample_shape_[2],
             " was expected (resize them to one size with --resize or --crop)");
  }
}

int64_t Inputs::size() const {
  if (images_) return index_.numel();
  return tensor_.defined() ? tensor_.size(0) : 0;
}

std::vector<int64_t> Inputs::sample_shape() const {
  if (images_) return sample_shape_;
  const auto sizes = tensor_.sizes();
  return {sizes.begin() + 1, sizes.end()};
}

const torch::Tensor& Inputs::tensor() const {
  LW_CHECK(!images_, "Inputs: images made per batch have no whole tensor (use batch)");
  return tensor_;
}

Inputs Inputs::slice(int64_t begin, int64_t end) const {
  LW_CHECK(0 <= begin && begin <= end && end <= size(), "Inputs: rows ", begin, "..", end, " of ",
           size());
  Inputs out = *this;
  if (images_) {
    out.index_ = index_.slice(0, begin, end);
  } else {
    out.tensor_ = tensor_.slice(0, begin, end);
  }
  return out;
}

torch::Tensor Inputs::batch(int64_t begin, int64_t end, torch::Device device) const {
  if (!images_) return tensor_.slice(0, begin, end).to(device);
  return gather(torch::arange(begin, end, torch::kInt64), device);
}

torch::Tensor Inputs::gather(const torch::Tensor& rows, torch::Device device) const {
  if (!images_) {
    const auto on_tensor = rows.to(tensor_.device(), torch::kInt64);
    return tensor_.index_select(0, on_tensor).to(device);
  }
  const auto picked = index_.index_select(0, rows.to(torch::kCPU, torch::kInt64));  // (B)
  const int64_t n = picked.numel();
  const int64_t c = sample_shape_[0], h = sample_shape_[1], w = sample_shape_[2];
  auto options = torch::TensorOptions().dtype(torch::kUInt8);
  if (device.is_cuda()) options = options.pinned_memory(true);
  auto pixels = torch::empty({n, h, w, c}, options);  // (B, H, W, C) uint8
  const auto* stored = picked.data_ptr<int64_t>();
  auto* out = pixels.data_ptr<uint8_t>();
  const int64_t image_bytes = h * w * c;
  // One image per item: decoded images vary in size, so the work per image does too.
  parallel_items(n, [&](int64_t i) {
    const auto image = prepare_pixels((*images_)[stored[i]], pipeline_).contiguous();  // (H, W, C)
    LW_CHECK(image.numel() == image_bytes, "image ", stored[i], " was prepared as ",
             image.sizes(), ", not ", h, " x ", w, " x ", c);
    std::memcpy(out + i * image_bytes, image.data_ptr<uint8_t>(), size_t(image_bytes));
  });
  return normalize_pixels(pixels.to(device, /*non_blocking=*/true), pipeline_);
}

}  // namespace layerwise::data
