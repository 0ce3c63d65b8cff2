// Resizing uint8 images exactly as Pillow's Image.resize does (Pillow >= 7, BILINEAR and BICUBIC),
// so that a model imported from Hugging Face sees the pixels its Python processor would give it.
//
// Pillow's algorithm, reproduced here: a separable convolution, first along rows (width), then
// along columns (height), each pass rounded to 8 bits; a pass whose size does not change is
// skipped. Output pixel i samples around the input coordinate (i + 0.5) * scale (scale = in / out);
// when shrinking, the filter is widened by the scale (antialiasing). Bilinear is the triangle
// filter (support 1), bicubic the cubic convolution with a = -0.5 (support 2). Each output's taps
// are normalized to sum 1, then turned into fixed point with 22 fraction bits (rounded away from
// 0); sums start at half a unit, and are shifted down and clipped to 0..255.
//
// Channels are resized independently. Pillow premultiplies by alpha to resize RGBA and LA images,
// so convert those with to_channels (data/image_file.h) first for Pillow's pixels.
#pragma once

#include <cstdint>
#include <utility>

#include <torch/torch.h>

#include "layerwise/core/enum_names.h"

namespace layerwise::data {

enum class ResizeFilter {
  bilinear,  // PIL.Image.Resampling.BILINEAR (2): ViTImageProcessor's default
  bicubic,   // PIL.Image.Resampling.BICUBIC (3): DeiT's and CLIP's processors
};

/// uint8 (H, W, C) -> uint8 (height, width, C), as Pillow's image.resize((width, height), filter)
/// on an "L" (C = 1) or "RGB" (C = 3) image. The same size returns a copy. Throws layerwise::Error
/// for another dtype or rank, an empty image or a non-positive size.
torch::Tensor resize_image(const torch::Tensor& image, int64_t height, int64_t width,
                           ResizeFilter filter);

/// Crops uint8 (H, W, C) to (height, width) around the centre, as transformers' center_crop: the
/// crop starts at floor((H - height) / 2) (and likewise for the width). Where the image is smaller
/// than the crop it is placed at ceil((height - H) / 2) on a zero (black) background.
torch::Tensor center_crop(const torch::Tensor& image, int64_t height, int64_t width);

/// (height, width) after resizing the shorter edge to `shortest_edge`, keeping the aspect ratio,
/// as transformers' get_resize_output_image_size(default_to_square=False): the longer edge becomes
/// int(shortest_edge * long / short), rounded down.
std::pair<int64_t, int64_t> shortest_edge_size(int64_t height, int64_t width,
                                               int64_t shortest_edge);

/// Resizes the shorter edge to `shortest_edge` (shortest_edge_size), then center_crop: the
/// preprocessing of processors with size {"shortest_edge": s} and a crop_size (CLIP, BiT).
/// transformers' DeiTImageProcessor instead resizes to the square (size, size), e.g.
/// 256 x 256, before cropping 224 x 224: resize_image then center_crop.
torch::Tensor shortest_edge_resize_and_center_crop(const torch::Tensor& image,
                                                   int64_t shortest_edge, int64_t crop_height,
                                                   int64_t crop_width, ResizeFilter filter);

}  // namespace layerwise::data

namespace layerwise {
template <>
struct EnumNames<data::ResizeFilter> {
  static constexpr std::pair<data::ResizeFilter, const char*> values[] = {
      {data::ResizeFilter::bilinear, "bilinear"}, {data::ResizeFilter::bicubic, "bicubic"}};
};
}  // namespace layerwise
