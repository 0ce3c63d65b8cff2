#include "layerwise/data/image_pipeline.h"

#include "layerwise/core/error.h"
#include "layerwise/data/image_file.h"
#include "layerwise/data/task_data.h"

namespace layerwise::data {

namespace {

// {s} -> (s, s); {h, w} as it is.
std::pair<int64_t, int64_t> square_or_pair(const std::vector<int64_t>& size) {
  return {size[0], size.size() == 2 ? size[1] : size[0]};
}

void check_size(const std::vector<int64_t>& size, const char* setting) {
  LW_CHECK(size.size() <= 2, setting, " takes one size (s) or two (height, width), got ",
           size.size(), " values");
  for (const int64_t s : size)
    LW_CHECK(s >= 1 && s <= 16384, setting, " must be in 1..16384 pixels, got ", s);
}

std::vector<double> normalization(const std::vector<double>& per_channel, double all,
                                  int64_t channels, const char* setting) {
  if (per_channel.empty()) return {all};
  LW_CHECK(per_channel.size() == 1 || int64_t(per_channel.size()) == channels, setting,
           " needs 1 or ", channels, " values (one per channel), got ", per_channel.size());
  return per_channel;
}

}  // namespace

std::vector<int64_t> ImagePipeline::output_shape(int64_t height, int64_t width) const {
  if (resize.size() == 1) {
    std::tie(height, width) = shortest_edge_size(height, width, resize[0]);
  } else if (resize.size() == 2) {
    std::tie(height, width) = square_or_pair(resize);
  }
  if (!crop.empty()) std::tie(height, width) = square_or_pair(crop);
  return {channels, height, width};
}

ImagePipeline image_pipeline(const DataConfig& c, int64_t stored_channels) {
  check_size(c.resize, "data.resize");
  check_size(c.crop, "data.crop");
  LW_CHECK(c.channels == 0 || c.channels == 1 || c.channels == 3,
           "data.channels must be 0 (as stored), 1 or 3, got ", c.channels);
  ImagePipeline p;
  p.channels = c.channels != 0 ? c.channels : stored_channels >= 3 ? 3 : 1;
  p.resize = c.resize;
  p.resample = c.resample;
  p.crop = c.crop;
  p.mean = normalization(c.channel_mean, c.mean, p.channels, "data.channel_mean");
  p.std = normalization(c.channel_std, c.std, p.channels, "data.channel_std");
  for (const double s : p.std) LW_CHECK(s > 0, "data.std values must be > 0, got ", s);
  return p;
}

torch::Tensor prepare_pixels(const torch::Tensor& image, const ImagePipeline& p) {
  auto out = to_channels(image.contiguous(), p.channels);  // (H, W, C)
  if (p.resize.size() == 1) {
    const auto [h, w] = shortest_edge_size(out.size(0), out.size(1), p.resize[0]);
    out = resize_image(out, h, w, p.resample);
  } else if (p.resize.size() == 2) {
    out = resize_image(out, p.resize[0], p.resize[1], p.resample);
  }
  if (!p.crop.empty()) {
    const auto [h, w] = square_or_pair(p.crop);
    out = center_crop(out, h, w);
  }
  return out;
}

torch::Tensor normalize_pixels(const torch::Tensor& pixels, const ImagePipeline& p) {
  LW_CHECK(pixels.dim() == 4 && pixels.scalar_type() == torch::kUInt8,
           "normalize_pixels: expected uint8 (B, H, W, C), got ", pixels.sizes(), " ",
           pixels.scalar_type());
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(pixels.device());
  // (x / 255 - mean) / std = x * scale + shift, per channel: one fused pass over the batch.
  auto mean = torch::tensor(p.mean, torch::kFloat64), std = torch::tensor(p.std, torch::kFloat64);
  const auto scale = (1.0 / (255.0 * std)).to(options).view({1, -1, 1, 1});  // (1, C or 1, 1, 1)
  const auto shift = (-mean / std).to(options).view({1, -1, 1, 1});
  return torch::addcmul(shift, pixels.permute({0, 3, 1, 2}).to(torch::kFloat32), scale)
      .contiguous();  // (B, C, H, W)
}

}  // namespace layerwise::data
