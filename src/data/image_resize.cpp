#include "layerwise/data/image_resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "layerwise/core/error.h"
#include "layerwise/data/image_file.h"

namespace layerwise::data {

namespace {

// Pillow's fixed point for 8-bit images: 22 fraction bits leave room for 8-bit pixels, the sign
// and the overshoot of bicubic's negative lobes in an int32 sum.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int64_t kHalf = int64_t{1} << (kPrecisionBits - 1);

double triangle(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Keys' cubic convolution with a = -0.5, written in Pillow's order of operations so that the
// weights agree to the last bit.
double cubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// The taps of a 1-D resampling from `in` to `out` samples: output i reads inputs
// first[i] .. first[i] + count[i] - 1 with the fixed-point weights weights[i * width + t].
struct Taps {
  int64_t width = 0;
  std::vector<int64_t> first, count;
  std::vector<int32_t> weights;
};

Taps make_taps(int64_t in, int64_t out, ResizeFilter filter) {
  const double support_1 = filter == ResizeFilter::bicubic ? 2.0 : 1.0;
  auto kernel = filter == ResizeFilter::bicubic ? cubic : triangle;
  const double scale = double(in) / double(out);
  const double filter_scale = std::max(scale, 1.0);  // widened when shrinking: antialiasing
  const double support = support_1 * filter_scale;
  const double step = 1.0 / filter_scale;
  Taps taps;
  taps.width = int64_t(std::ceil(support)) * 2 + 1;
  taps.first.resize(size_t(out));
  taps.count.resize(size_t(out));
  taps.weights.assign(size_t(out * taps.width), 0);
  std::vector<double> k(size_t(taps.width));
  for (int64_t i = 0; i < out; ++i) {
    const double center = (double(i) + 0.5) * scale;
    // Truncations as Pillow's (int) casts; both bounds are clamped to the input.
    const int64_t first = std::max<int64_t>(int64_t(center - support + 0.5), 0);
    const int64_t end = std::min<int64_t>(int64_t(center + support + 0.5), in);
    double total = 0.0;
    for (int64_t t = 0; t < end - first; ++t) {
      k[size_t(t)] = kernel((double(t + first) - center + 0.5) * step);
      total += k[size_t(t)];
    }
    for (int64_t t = 0; t < end - first; ++t) {
      const double w = total != 0.0 ? k[size_t(t)] / total : k[size_t(t)];
      const double fixed = w * double(1 << kPrecisionBits);
      taps.weights[size_t(i * taps.width + t)] = int32_t(w < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    taps.first[size_t(i)] = first;
    taps.count[size_t(i)] = end - first;
  }
  return taps;
}

uint8_t to_8bit(int64_t sum) {
  return sum <= 0 ? 0 : uint8_t(std::min<int64_t>(sum >> kPrecisionBits, 255));
}

// Along rows: in (rows, w_in, C) -> out (rows, w_out, C), both contiguous.
void resample_rows(const uint8_t* in, uint8_t* out, int64_t rows, int64_t w_in, int64_t channels,
                   const Taps& taps, int64_t w_out) {
  for (int64_t y = 0; y < rows; ++y) {
    const uint8_t* row = in + y * w_in * channels;
    for (int64_t x = 0; x < w_out; ++x) {
      const int32_t* k = taps.weights.data() + x * taps.width;
      const uint8_t* src = row + taps.first[size_t(x)] * channels;
      for (int64_t c = 0; c < channels; ++c) {
        int64_t sum = kHalf;
        for (int64_t t = 0; t < taps.count[size_t(x)]; ++t) sum += src[t * channels + c] * k[t];
        out[(y * w_out + x) * channels + c] = to_8bit(sum);
      }
    }
  }
}

// Along columns: in (h_in, row_size) -> out (h_out, row_size), where in's row 0 is input row
// `offset` (rows that no output reads were never computed).
void resample_columns(const uint8_t* in, uint8_t* out, int64_t row_size, int64_t offset,
                      const Taps& taps, int64_t h_out) {
  for (int64_t y = 0; y < h_out; ++y) {
    const int32_t* k = taps.weights.data() + y * taps.width;
    const uint8_t* src = in + (taps.first[size_t(y)] - offset) * row_size;
    for (int64_t i = 0; i < row_size; ++i) {
      int64_t sum = kHalf;
      for (int64_t t = 0; t < taps.count[size_t(y)]; ++t) sum += src[t * row_size + i] * k[t];
      out[y * row_size + i] = to_8bit(sum);
    }
  }
}

// One axis of transformers' center_crop: the kept span starts at `from` in the input and at `to`
// in the output.
struct CropSpan {
  int64_t from, to, length;
};

CropSpan crop_span(int64_t in, int64_t out) {
  if (in >= out) return {(in - out) / 2, 0, out};
  return {0, (out - in + 1) / 2, in};  // centred on a larger, zero canvas: ceil((out - in) / 2)
}

void check_image(const torch::Tensor& image, const char* what) {
  LW_CHECK(image.dim() == 3 && image.scalar_type() == torch::kUInt8 && image.numel() > 0, what,
           ": expected a non-empty uint8 image (H, W, C), got ", image.sizes(), " ",
           image.scalar_type());
}

}  // namespace

torch::Tensor resize_image(const torch::Tensor& image, int64_t height, int64_t width,
                           ResizeFilter filter) {
  check_image(image, "resize_image");
  LW_CHECK(height >= 1 && width >= 1 && height * width <= kMaxImagePixels,
           "resize_image: size must be positive and at most ", kMaxImagePixels, " pixels, got ",
           height, " x ", width);
  auto in = image.contiguous().cpu();  // (H, W, C)
  const int64_t h_in = in.size(0), w_in = in.size(1), channels = in.size(2);
  if (height == h_in && width == w_in) return in.clone();
  const Taps columns = make_taps(h_in, height, filter);
  if (width != w_in) {
    // Only the input rows the column pass reads: first[0] .. first[last] + count[last] - 1.
    const int64_t top = height != h_in ? columns.first.front() : 0;
    const int64_t bottom = height != h_in ? columns.first.back() + columns.count.back() : h_in;
    auto rows = torch::empty({bottom - top, width, channels}, torch::kUInt8);  // (rows, W', C)
    resample_rows(in.data_ptr<uint8_t>() + top * w_in * channels, rows.data_ptr<uint8_t>(),
                  bottom - top, w_in, channels, make_taps(w_in, width, filter), width);
    if (height == h_in) return rows;
    in = rows;
    auto out = torch::empty({height, width, channels}, torch::kUInt8);  // (H', W', C)
    resample_columns(in.data_ptr<uint8_t>(), out.data_ptr<uint8_t>(), width * channels, top,
                     columns, height);
    return out;
  }
  auto out = torch::empty({height, width, channels}, torch::kUInt8);  // (H', W, C)
  resample_columns(in.data_ptr<uint8_t>(), out.data_ptr<uint8_t>(), width * channels, 0, columns,
                   height);
  return out;
}

torch::Tensor center_crop(const torch::Tensor& image, int64_t height, int64_t width) {
  check_image(image, "center_crop");
  LW_CHECK(height >= 1 && width >= 1, "center_crop: size must be positive, got ", height, " x ",
           width);
  const auto rows = crop_span(image.size(0), height), columns = crop_span(image.size(1), width);
  const auto kept = image.narrow(0, rows.from, rows.length).narrow(1, columns.from, columns.length);
  if (image.size(0) >= height && image.size(1) >= width) return kept.contiguous();
  auto out = torch::zeros({height, width, image.size(2)}, torch::kUInt8);  // (height, width, C)
  out.narrow(0, rows.to, rows.length).narrow(1, columns.to, columns.length).copy_(kept);
  return out;
}

std::pair<int64_t, int64_t> shortest_edge_size(int64_t height, int64_t width,
                                               int64_t shortest_edge) {
  LW_CHECK(height >= 1 && width >= 1 && shortest_edge >= 1,
           "shortest_edge_size: sizes must be positive, got ", height, " x ", width,
           " and shortest edge ", shortest_edge);
  const int64_t short_side = std::min(height, width), long_side = std::max(height, width);
  // Python's int(s * long / short): a correctly rounded division, then truncation.
  const auto new_long = int64_t(double(shortest_edge * long_side) / double(short_side));
  if (width <= height) return {new_long, shortest_edge};
  return {shortest_edge, new_long};
}

torch::Tensor shortest_edge_resize_and_center_crop(const torch::Tensor& image,
                                                   int64_t shortest_edge, int64_t crop_height,
                                                   int64_t crop_width, ResizeFilter filter) {
  check_image(image, "shortest_edge_resize_and_center_crop");
  const auto [height, width] = shortest_edge_size(image.size(0), image.size(1), shortest_edge);
  return center_crop(resize_image(image, height, width, filter), crop_height, crop_width);
}

}  // namespace layerwise::data
