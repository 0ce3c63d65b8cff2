// Images made model-ready one batch at a time, as a Pillow-based Python processor makes them: the
// pixel steps (channel conversion, resize, center crop) on the loader's threads in uint8, then the
// rescale to [0, 1] and the normalization on the device that runs the model, so that what crosses
// to the device is a quarter of the float batch and no image is ever held at model size for the
// whole dataset.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "layerwise/data/image_resize.h"

namespace layerwise::data {

struct DataConfig;

struct ImagePipeline {
  int64_t channels = 1;         // output channels: grey repeated to RGB, RGB to grey by luma
  std::vector<int64_t> resize;  // {}: none; {s}: shorter edge to s; {h, w}: exactly h x w
  ResizeFilter resample = ResizeFilter::bilinear;
  std::vector<int64_t> crop;      // {}: none; {s} or {h, w}: center crop after the resize
  std::vector<double> mean, std;  // one value, or one per output channel; pixels in [0, 1]

  /// (channels, H, W) of the model-ready image made from a stored height x width image.
  std::vector<int64_t> output_shape(int64_t height, int64_t width) const;
};

/// The pipeline a data config asks for, for images stored with `stored_channels` channels (the
/// most any image of the dataset has): data.channels (0: grey stays grey, colour becomes RGB),
/// resize, crop, resample and the normalization (channel_mean / channel_std, else mean / std,
/// which must be set). Throws naming the setting when a size, a channel count or a mean / std
/// list is malformed.
ImagePipeline image_pipeline(const DataConfig& config, int64_t stored_channels);

/// The uint8 steps: (H, W, C) with C in 1..4 -> (h, w, pipeline.channels): conversion as Pillow's
/// convert (alpha dropped), resize as Pillow's resize, center crop as transformers'.
torch::Tensor prepare_pixels(const torch::Tensor& image, const ImagePipeline& pipeline);

/// The float steps, on the pixels' device: uint8 (B, H, W, C) -> float32 (B, C, H, W),
/// (x / 255 - mean) / std per channel.
torch::Tensor normalize_pixels(const torch::Tensor& pixels, const ImagePipeline& pipeline);

}  // namespace layerwise::data
