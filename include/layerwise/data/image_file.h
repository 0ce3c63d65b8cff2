// Decoding PNG and JPEG files into uint8 (H, W, C) tensors, and the channel conversions Pillow
// applies (Image.convert("L") / convert("RGB")), so that a folder of user images reads as the
// pixels a Python pipeline built on Pillow sees.
//
// The format is told by the file's magic bytes, never by its extension. PNG goes through libpng,
// JPEG through libjpeg-turbo (the libraries Pillow itself links on Debian: the same JPEG decoder
// gives the same pixels). Channels come as stored:
//   grey 1, grey + alpha 2, RGB 3, RGBA 4;
//   palette PNG -> RGB (RGBA where it has transparency); grey or RGB PNG with a tRNS colour key
//   -> that colour's alpha added (2 or 4); 1, 2 and 4-bit grey -> 8-bit (scaled to 0..255);
//   16-bit PNG -> 8-bit by rounding, round(v * 255 / 65535) (Pillow differs here: it keeps the high
//   byte of 16-bit RGB and clips 16-bit grey to 255, which is rarely what a user wants);
//   grey JPEG -> 1, colour JPEG -> 3, CMYK / YCCK JPEG -> 3 as Pillow converts CMYK to RGB.
// A JPEG's EXIF Orientation tag is applied (the image comes upright, as Pillow's
// ImageOps.exif_transpose gives it); PNG ignores gamma and colour profiles, as Pillow does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <torch/torch.h>

namespace layerwise::data {

/// The largest image read_image decodes, in pixels: Pillow's MAX_IMAGE_PIXELS (89,478,485, e.g.
/// 9459 x 9459; 256 MiB as RGB). Larger ones are refused before any pixel memory is taken
/// (decompression bombs: a 559-byte JPEG declaring 2^28 pixels took 2 GB under the fuzzer).
constexpr int64_t kMaxImagePixels = 89'478'485;

/// Reads a PNG or JPEG file into a CPU uint8 tensor (H, W, C), C in 1..4 as described above.
/// Throws layerwise::Error, naming the file and what is wrong, when it is missing or unreadable,
/// neither PNG nor JPEG, truncated or corrupt, or larger than kMaxImagePixels.
torch::Tensor read_image(const std::string& path);

/// read_image on bytes already in memory; `name` stands for the source in messages. Images of more
/// than `max_pixels` are refused before pixel memory is taken (the fuzz target passes a smaller
/// bound so that its inputs stay within its memory limit).
torch::Tensor decode_image(const uint8_t* data, size_t size, const std::string& name,
                           int64_t max_pixels = kMaxImagePixels);

/// Converts uint8 (H, W, C), C in 1..4, to `channels` (1 or 3) as Pillow's convert does: to grey
/// by L = (19595 R + 38470 G + 7471 B + 2^15) >> 16 (ITU-R 601-2 luma in Pillow's fixed point);
/// grey to RGB by repeating; alpha dropped (not composited). Returns the input when it already has
/// `channels` channels.
torch::Tensor to_channels(const torch::Tensor& image, int64_t channels);

/// Applies an EXIF orientation (1..8) to uint8 (H, W, C), as Pillow's ImageOps.exif_transpose:
/// 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90
/// counter-clockwise. Other values leave the image as it is.
torch::Tensor apply_exif_orientation(const torch::Tensor& image, int orientation);

/// The Orientation tag (0x0112) of an APP1 Exif payload ("Exif\0\0" + TIFF), or 1 when it has
/// none or cannot be parsed (a broken EXIF block must not make the image unreadable).
int exif_orientation(const uint8_t* data, size_t size);

}  // namespace layerwise::data
