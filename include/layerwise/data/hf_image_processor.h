// Image preprocessing of a Hugging Face ViT checkpoint, from its preprocessor_config.json
// (ViTImageProcessor; DeiT's bicubic resize and center crop are not supported): resize (bilinear
// with antialiasing, rows then columns, rounded to 8 bits after each pass as PIL does), rescale (x
// 1/255), normalize ((x - mean) / std per channel).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace layerwise::data {

struct HfImageProcessor {
  bool do_resize = true;
  int64_t height = 224, width = 224;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::vector<double> mean = {0.5, 0.5, 0.5}, std = {0.5, 0.5, 0.5};
  std::string unsupported;  // a setting preprocess_images cannot follow (resample other than
                            // bilinear, center crop, shortest-edge size); empty: none
};

/// Reads a preprocessor_config.json (or the one in a folder); throws naming the file and field.
/// Settings preprocess_images cannot follow are recorded in `unsupported` (the normalization of
/// such a processor is still usable).
HfImageProcessor read_hf_image_processor(const std::string& path);

/// The processor's normalization as the data pipeline applies it: one (mean, std) for pixels in
/// [0, 1] and every channel ((0, 1) without do_normalize). Throws naming `source` when the
/// channels differ or rescale_factor is not 1/255.
std::pair<double, double> pipeline_normalization(const HfImageProcessor& processor,
                                                 const std::string& source);

/// uint8 images (N, C, H, W) -> float32 (N, C, height, width), as the processor computes them.
/// One-channel images are repeated to the processor's channel count (grey to RGB). Throws if the
/// processor has an unsupported setting.
torch::Tensor preprocess_images(const HfImageProcessor& processor, const torch::Tensor& images);

}  // namespace layerwise::data
