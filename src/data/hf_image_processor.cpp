#include "layerwise/data/hf_image_processor.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/data/image_pipeline.h"
#include "layerwise/data/task_data.h"

namespace layerwise::data {

namespace {

std::vector<double> per_channel(const nlohmann::json& value, const std::string& where) {
  if (value.is_number()) return {value.get<double>()};
  LW_CHECK(value.is_array() && !value.empty(), where, " must be a number or a list of numbers");
  return value.get<std::vector<double>>();
}

// A setting that must be a JSON integer: converting 1e300 to an integer type is undefined.
int64_t integer(const nlohmann::json& value, const std::string& where) {
  LW_CHECK(value.is_number_integer() &&
               (!value.is_number_unsigned() ||
                value.get<uint64_t>() <= uint64_t(std::numeric_limits<int64_t>::max())),
           where, " must be an integer, got ", value.dump());
  return value.get<int64_t>();
}

// "size" / "crop_size": an integer (square), {"height", "width"} or {"shortest_edge"}.
std::vector<int64_t> image_size(const nlohmann::json& size, const std::string& where,
                                bool shortest_edge_allowed) {
  if (size.is_number()) {
    const int64_t s = integer(size, where);
    return {s, s};
  }
  LW_CHECK(size.is_object(), where, " must be an integer or an object, got ", size.dump());
  if (size.contains("height") && size.contains("width"))
    return {integer(size["height"], where + ".height"), integer(size["width"], where + ".width")};
  LW_CHECK(shortest_edge_allowed && size.contains("shortest_edge"), where,
           " needs height and width", shortest_edge_allowed ? " or shortest_edge" : "");
  return {integer(size["shortest_edge"], where + ".shortest_edge")};
}

}  // namespace

HfImageProcessor read_hf_image_processor(const std::string& path_or_dir) {
  const auto path =
      file_exists(path_or_dir) ? path_or_dir : path_or_dir + "/preprocessor_config.json";
  LW_CHECK(file_exists(path), path, ": no such file (the image processor's configuration)");
  HfImageProcessor p;
  try {
    const auto j = nlohmann::json::parse(read_file(path));
    p.do_resize = j.value("do_resize", p.do_resize);
    if (j.contains("size")) p.size = image_size(j["size"], path + ": size", true);
    const int64_t resample =
        j.contains("resample") ? integer(j["resample"], path + ": resample") : 2;
    LW_CHECK(resample == 2 || resample == 3, path, ": resample ", resample,
             " is not supported (2, bilinear, and 3, bicubic, are)");
    p.resample = resample == 3 ? ResizeFilter::bicubic : ResizeFilter::bilinear;
    p.do_center_crop = j.value("do_center_crop", p.do_center_crop);
    if (j.contains("crop_size"))
      p.crop_size = image_size(j["crop_size"], path + ": crop_size", false);
    p.do_rescale = j.value("do_rescale", p.do_rescale);
    p.rescale_factor = j.value("rescale_factor", p.rescale_factor);
    p.do_normalize = j.value("do_normalize", p.do_normalize);
    if (j.contains("image_mean")) p.mean = per_channel(j["image_mean"], path + ": image_mean");
    if (j.contains("image_std")) p.std = per_channel(j["image_std"], path + ": image_std");
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(path, ": ", e.what()));
  }
  for (const auto* size : {&p.size, &p.crop_size})
    for (const int64_t s : *size)
      LW_CHECK(s >= 1 && s <= 16384, path, ": sizes must be in 1..16384, got ", s);
  LW_CHECK(p.mean.size() == p.std.size(), path, ": image_mean and image_std differ in length");
  for (double s : p.std) LW_CHECK(s > 0, path, ": image_std must be positive");
  LW_CHECK(!p.do_rescale || p.rescale_factor > 0, path, ": rescale_factor must be positive");
  return p;
}

void apply_image_processor(const HfImageProcessor& p, int64_t channels, DataConfig& c) {
  c.resize = p.do_resize ? p.size : std::vector<int64_t>{};
  c.resample = p.resample;
  c.crop = p.do_center_crop ? p.crop_size : std::vector<int64_t>{};
  c.channels = channels;
  // The processor computes (x r - m) / s on pixels x in 0..255 (r = rescale_factor, or 1
  // without rescaling; m = 0, s = 1 without normalizing); the pipeline (x / 255 - M) / S, so
  // M = m / (255 r) and S = s / (255 r).
  const double r = p.do_rescale ? p.rescale_factor : 1.0;
  // 255 r, exactly 1 for the usual rescale_factor of 1/255 (whose double is not exactly 1/255).
  const double scale = std::abs(255 * r - 1) < 1e-9 ? 1.0 : 255 * r;
  c.channel_mean.clear();
  c.channel_std.clear();
  for (size_t i = 0; i < (p.do_normalize ? p.mean.size() : 1); ++i) {
    c.channel_mean.push_back(p.do_normalize ? p.mean[i] / scale : 0.0);
    c.channel_std.push_back((p.do_normalize ? p.std[i] : 1.0) / scale);
  }
}

nlohmann::json hf_image_processor_json(const DataConfig& c, int64_t channels, int64_t image_size) {
  const auto pair = [](int64_t h, int64_t w) {
    return nlohmann::json{{"height", h}, {"width", w}};
  };
  nlohmann::json j = {{"image_processor_type", "ViTImageProcessor"},
                      {"do_resize", true},  // to the size images already have: a no-op
                      {"resample", c.resample == ResizeFilter::bicubic ? 3 : 2},
                      {"do_rescale", true},
                      {"rescale_factor", 1.0 / 255.0},
                      {"do_normalize", true}};
  j["size"] = pair(image_size, image_size);
  if (c.resize.size() == 2) j["size"] = pair(c.resize[0], c.resize[1]);
  if (c.resize.size() == 1) {
    j["size"] = {{"shortest_edge", c.resize[0]}};
    j["image_processor_type"] = "CLIPImageProcessor";
    j["do_convert_rgb"] = channels == 3;
  }
  if (!c.crop.empty()) {
    j["do_center_crop"] = true;
    j["crop_size"] = pair(c.crop[0], c.crop.size() == 2 ? c.crop[1] : c.crop[0]);
    if (c.resize.size() != 1) j["image_processor_type"] = "DeiTImageProcessor";
  }
  const auto per_channel = [&](const std::vector<double>& values, double all) {
    if (values.empty()) return std::vector<double>(size_t(channels), all);
    return values.size() == 1 ? std::vector<double>(size_t(channels), values[0]) : values;
  };
  j["image_mean"] = per_channel(c.channel_mean, c.mean);
  j["image_std"] = per_channel(c.channel_std, c.std);
  return j;
}

torch::Tensor preprocess_images(const HfImageProcessor& p, const torch::Tensor& images) {
  LW_CHECK(images.dim() == 4 && images.scalar_type() == torch::kUInt8,
           "preprocess: expected uint8 images (N, C, H, W), got ", images.sizes(), " ",
           images.scalar_type());
  DataConfig config;
  apply_image_processor(p, std::max<int64_t>(int64_t(p.mean.size()), images.size(1)), config);
  const auto pipeline = image_pipeline(config, images.size(1));
  std::vector<torch::Tensor> prepared;  // (H', W', C) each
  for (int64_t i = 0; i < images.size(0); ++i)
    prepared.push_back(prepare_pixels(images[i].permute({1, 2, 0}), pipeline));
  return normalize_pixels(torch::stack(prepared), pipeline);  // (N, C, H', W')
}

}  // namespace layerwise::data
