// A folder of real PNG and JPEG files to try the image-folder pipeline on: Fashion-MNIST images
// written in the layout DIR/{train,test}/<class>/ at several sizes and in several modes, as a
// user's photos come (grey and colour, with alpha, an EXIF-rotated JPEG), optionally with an
// unreadable file.
#pragma once

#include <cstdint>
#include <string>

namespace layerwise::workflow {

struct ExampleImagesOptions {
  std::string fashion_dir;  // Fashion-MNIST's folder; empty: Debian's
  int64_t train_per_class = 30;
  int64_t test_per_class = 10;
  bool corrupt = false;  // also write one truncated PNG into the training folder
};

/// Writes the folder whole (staged, then renamed; an existing non-empty DIR is refused). Image i
/// of a class cycles through: grey PNG 28 x 28; RGB JPEG 36 x 36 (tinted, bicubic upscale); RGBA
/// PNG 32 x 32; grey JPEG 28 x 28 stored rotated with EXIF orientation 6 (upright when read);
/// RGB PNG 42 x 42. Returns the number of files written.
int64_t write_example_images(const std::string& dir, const ExampleImagesOptions& options);

}  // namespace layerwise::workflow
