#include "layerwise/data/hf_image_processor.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"

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

// Pillow's fixed point for 8-bit resampling: weights scaled by 2^22 and rounded to integers.
constexpr int kPrecisionBits = 32 - 8 - 2;

// Pillow's bilinear (triangle) filter for resizing `in` samples to `out`, with antialiasing when
// shrinking: (out, in) float64 holding the integer weights of each output sample.
torch::Tensor pil_weights(int64_t in, int64_t out) {
  const double scale = double(in) / double(out), filter_scale = std::max(scale, 1.0);
  const double support = filter_scale;  // the triangle's support 1, widened when shrinking
  std::vector<double> weights(size_t(out * in), 0.0);
  for (int64_t i = 0; i < out; ++i) {
    const double center = (double(i) + 0.5) * scale;
    const auto first = std::max<int64_t>(int64_t(center - support + 0.5), 0);
    const auto end = std::min<int64_t>(int64_t(center + support + 0.5), in);
    std::vector<double> k;
    double total = 0;
    for (int64_t x = first; x < end; ++x) {
      const double t = std::abs((double(x) - center + 0.5) * (1.0 / filter_scale));
      k.push_back(t < 1 ? 1 - t : 0);
      total += k.back();
    }
    for (size_t j = 0; j < k.size(); ++j) {
      const double w = total != 0 ? k[j] / total : 0;
      weights[size_t(i * in + first) + j] = std::trunc(w * double(1 << kPrecisionBits) + 0.5);
    }
  }
  return torch::tensor(weights, torch::kFloat64).view({out, in});
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
    if (j.contains("size")) {
      const auto& size = j["size"];
      if (size.is_number()) {
        p.height = p.width = integer(size, path + ": size");
      } else if (size.contains("height") && size.contains("width")) {
        p.height = integer(size["height"], path + ": size.height");
        p.width = integer(size["width"], path + ": size.width");
      } else {
        p.unsupported = "size without height and width (shortest_edge)";
      }
    }
    const int64_t resample =
        j.contains("resample") ? integer(j["resample"], path + ": resample") : 2;
    if (resample != 2) p.unsupported = str_cat("resample ", resample, " (only 2, bilinear)");
    if (j.value("do_center_crop", false)) p.unsupported = "do_center_crop";
    p.do_rescale = j.value("do_rescale", p.do_rescale);
    p.rescale_factor = j.value("rescale_factor", p.rescale_factor);
    p.do_normalize = j.value("do_normalize", p.do_normalize);
    if (j.contains("image_mean")) p.mean = per_channel(j["image_mean"], path + ": image_mean");
    if (j.contains("image_std")) p.std = per_channel(j["image_std"], path + ": image_std");
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(path, ": ", e.what()));
  }
  LW_CHECK(p.height >= 1 && p.width >= 1, path, ": size must be positive");
  LW_CHECK(p.mean.size() == p.std.size(), path, ": image_mean and image_std differ in length");
  for (double s : p.std) LW_CHECK(s > 0, path, ": image_std must be positive");
  return p;
}

std::pair<double, double> pipeline_normalization(const HfImageProcessor& p,
                                                 const std::string& source) {
  for (size_t c = 1; c < p.mean.size(); ++c)
    LW_CHECK(p.mean[c] == p.mean[0] && p.std[c] == p.std[0], source,
             ": per-channel normalization differs between channels; the data pipeline applies one");
  LW_CHECK(std::abs(p.rescale_factor - 1.0 / 255.0) < 1e-9, source,
           ": rescale_factor must be 1/255");
  if (!p.do_normalize) return {0.0, 1.0};
  return {p.mean[0], p.std[0]};
}

torch::Tensor preprocess_images(const HfImageProcessor& p, const torch::Tensor& images) {
  LW_CHECK(p.unsupported.empty(), "preprocess: the processor's ", p.unsupported,
           " is not supported");
  LW_CHECK(images.dim() == 4 && images.scalar_type() == torch::kUInt8,
           "preprocess: expected uint8 images (N, C, H, W), got ", images.sizes(), " ",
           images.scalar_type());
  const int64_t channels = int64_t(p.mean.size());
  auto x = images.to(torch::kFloat64);  // (N, C, H, W) in 0..255; float64: exact halves round up
  if (x.size(1) == 1 && channels > 1) x = x.expand({-1, channels, -1, -1});
  LW_CHECK(!p.do_normalize || x.size(1) == channels, "preprocess: images have ", x.size(1),
           " channels, the processor normalizes ", channels);
  if (p.do_resize && (x.size(2) != p.height || x.size(3) != p.width)) {
    // PIL: rows, then columns, each pass rounded to 8 bits. Sums of 8-bit pixels times 22-bit
    // integer weights are exact in float64.
    const double one = double(1 << kPrecisionBits), half = one / 2;
    auto to_8bit = [&](const torch::Tensor& sums) {
      return sums.add(half).div(one).floor().clamp(0, 255);
    };
    const auto rows = pil_weights(x.size(3), p.width);      // (W', W)
    const auto columns = pil_weights(x.size(2), p.height);  // (H', H)
    x = to_8bit(torch::matmul(x, rows.t()));                // (N, C, H, W')
    x = to_8bit(torch::matmul(columns, x));                 // (N, C, H', W')
  }
  if (p.do_rescale) x = x * p.rescale_factor;
  if (p.do_normalize) {
    const auto mean = torch::tensor(p.mean, torch::kFloat64).view({1, -1, 1, 1});
    const auto std = torch::tensor(p.std, torch::kFloat64).view({1, -1, 1, 1});
    x = (x - mean) / std;
  }
  return x.to(torch::kFloat32).contiguous();  // (N, C', height, width)
}

}  // namespace layerwise::data
