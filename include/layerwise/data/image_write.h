// Encoding uint8 images as PNG (libpng) and JPEG (libjpeg-turbo), for the example image folders a
// user or a test reads back through data/image_file.h.
#pragma once

#include <string>

#include <torch/torch.h>

namespace layerwise::data {

/// uint8 (H, W, C), C in 1..4 (grey, grey + alpha, RGB, RGBA) -> the bytes of a PNG file.
std::string encode_png(const torch::Tensor& image);

/// uint8 (H, W, C), C 1 or 3 -> the bytes of a baseline JPEG file at `quality` (1..100). An EXIF
/// block with the Orientation tag is written when exif_orientation is 2..8 (the pixels are stored
/// as given: a reader that honours the tag turns them).
std::string encode_jpeg(const torch::Tensor& image, int quality, int exif_orientation = 1);

}  // namespace layerwise::data
