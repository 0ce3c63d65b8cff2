// Image preprocessing of a Hugging Face vision checkpoint, from its preprocessor_config.json
// (ViTImageProcessor, DeiTImageProcessor, CLIPImageProcessor, ...): resize to a size or the
// shorter edge to a length (bilinear or bicubic, as Pillow), center crop, rescale, normalize. The
// data pipeline (data/image_pipeline.h) follows it exactly.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "layerwise/data/image_resize.h"

namespace layerwise::data {

struct DataConfig;

struct HfImageProcessor {
  bool do_resize = true;
  std::vector<int64_t> size = {224, 224};  // {height, width}, or {shortest_edge}
  ResizeFilter resample = ResizeFilter::bilinear;
  bool do_center_crop = false;
  std::vector<int64_t> crop_size = {224, 224};  // {height, width}
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::vector<double> mean = {0.5, 0.5, 0.5}, std = {0.5, 0.5, 0.5};
};

/// Reads a preprocessor_config.json (or the one in a folder); throws naming the file and field,
/// also for a resample filter other than bilinear (2) and bicubic (3).
HfImageProcessor read_hf_image_processor(const std::string& path);

/// Sets `config`'s image pipeline (resize, resample, crop, channels, per-channel normalization)
/// to what the processor does, for a model that reads `channels` channels.
void apply_image_processor(const HfImageProcessor& processor, int64_t channels, DataConfig& config);

/// The preprocessor_config.json of what `config`'s pipeline does for a model reading `channels` x
/// image_size x image_size images: ViTImageProcessor (DeiTImageProcessor with a crop,
/// CLIPImageProcessor with a shorter-edge resize), so that transformers, and import, feed an
/// exported model the pixels the run fed it.
nlohmann::json hf_image_processor_json(const DataConfig& config, int64_t channels,
                                       int64_t image_size);

/// uint8 images (N, C, H, W) -> float32 (N, channels, H', W') as the processor computes them,
/// through the data pipeline (grey repeated to the processor's channel count).
torch::Tensor preprocess_images(const HfImageProcessor& processor, const torch::Tensor& images);

}  // namespace layerwise::data
