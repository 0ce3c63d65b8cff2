// data/image_resize: Pillow's bilinear and bicubic resize, against Pillow 9.4's own output
// (tests/fixtures/make_image_fixtures.py), and transformers' shortest-edge resize + center crop.
#include "layerwise/data/image_resize.h"

#include <fstream>
#include <string>
#include <vector>

#include "image_fixtures.h"
#include "layerwise/data/image_file.h"

namespace layerwise::data {
namespace {

using layerwise::testing::image_path;
using layerwise::testing::read_u8;

const char* filter_name(ResizeFilter filter) {
  return filter == ResizeFilter::bicubic ? "bicubic" : "bilinear";
}

struct PillowCase {
  std::string source;     // the image resized
  std::string reference;  // Pillow's output, prefix of resize_<reference>_<H>x<W>_<filter>.png
  int64_t height, width;
};

TEST(ImageResize, MatchesPillowExactly) {
  const std::vector<PillowCase> cases = {
      {"grey.png", "grey", 224, 224},  // 28 x 28 -> 224 x 224: up 8x
      {"grey.png", "grey", 61, 61},    // 28 -> 61: up by a fraction
      {"grid.png", "grid", 61, 61},    // 224 -> 61: down, antialiased
      {"rgb.png", "rgb", 224, 224},    // 37 x 50 -> 224 x 224: non-uniform
      {"rgb.png", "rgb", 20, 75},      // shrink the height, grow the width
      {"rgb.png", "rgb", 37, 80},      // width only (Pillow skips the column pass)
      {"rgb.png", "rgb", 90, 50},      // height only (Pillow skips the row pass)
      {"rgb.png", "rgb", 15, 21},      // shrink both
      {"resize_rgb_224x224_bicubic.png", "rgb224", 61, 61},  // colour 224 -> 61
  };
  for (const auto& c : cases) {
    const auto source = read_image(image_path(c.source));
    for (const auto filter : {ResizeFilter::bilinear, ResizeFilter::bicubic}) {
      const auto name = "resize_" + c.reference + "_" + std::to_string(c.height) + "x" +
                        std::to_string(c.width) + "_" + filter_name(filter) + ".png";
      const auto pillow = read_image(image_path(name));
      const auto ours = resize_image(source, c.height, c.width, filter);
      ASSERT_EQ(ours.sizes(), pillow.sizes()) << name;
      const auto diff = (ours.to(torch::kInt32) - pillow.to(torch::kInt32)).abs();
      const double exact = diff.eq(0).to(torch::kFloat64).mean().item<double>();
      const double within_one = diff.le(1).to(torch::kFloat64).mean().item<double>();
      EXPECT_GE(within_one, 0.99) << name;  // issue 19's bar
      EXPECT_EQ(exact, 1.0) << name << ": " << exact * 100 << "% of pixels equal Pillow's, "
                            << within_one * 100 << "% within one level";
    }
  }
}

TEST(ImageResize, SameSizeIsACopy) {
  const auto image = read_image(image_path("rgb.png"));  // (37, 50, 3)
  for (const auto filter : {ResizeFilter::bilinear, ResizeFilter::bicubic}) {
    const auto same = resize_image(image, 37, 50, filter);
    EXPECT_TRUE(torch::equal(same, image));
    EXPECT_NE(same.data_ptr(), image.data_ptr());
  }
}

TEST(ImageResize, ConstantStaysConstant) {
  // The normalized fixed-point taps of every output sum to 1 within rounding: a flat image stays
  // flat, up, down and non-uniform, at the extremes too.
  for (const int value : {0, 1, 77, 254, 255}) {
    const auto flat = torch::full({23, 41, 3}, value, torch::kUInt8);
    for (const auto filter : {ResizeFilter::bilinear, ResizeFilter::bicubic})
      for (const auto& [h, w] : std::vector<std::pair<int64_t, int64_t>>{
               {224, 224}, {5, 7}, {1, 1}, {23, 300}, {400, 41}, {11, 97}}) {
        const auto out = resize_image(flat, h, w, filter);
        EXPECT_TRUE(out.eq(value).all().item<bool>())
            << value << " " << filter_name(filter) << " " << h << "x" << w;
      }
  }
}

TEST(ImageResize, ChannelsAreIndependent) {
  // An RGB resize is the three grey resizes side by side.
  const auto rgb = read_image(image_path("rgb.png"));
  const auto out = resize_image(rgb, 45, 33, ResizeFilter::bicubic);
  for (int64_t c = 0; c < 3; ++c) {
    const auto one = resize_image(rgb.narrow(2, c, 1), 45, 33, ResizeFilter::bicubic);
    EXPECT_TRUE(torch::equal(out.narrow(2, c, 1), one)) << c;
  }
}

TEST(ImageResize, RefusesBadInput) {
  const auto image = torch::zeros({4, 4, 1}, torch::kUInt8);
  EXPECT_THROW(resize_image(image.to(torch::kFloat32), 8, 8, ResizeFilter::bilinear), Error);
  EXPECT_THROW(resize_image(image.view({4, 4}), 8, 8, ResizeFilter::bilinear), Error);
  EXPECT_THROW(resize_image(image, 0, 8, ResizeFilter::bilinear), Error);
  EXPECT_THROW(resize_image(torch::zeros({0, 4, 1}, torch::kUInt8), 8, 8, ResizeFilter::bilinear),
               Error);
}

TEST(ImageResize, ShortestEdgeSize) {
  // transformers' get_resize_output_image_size(default_to_square=False): int(s * long / short).
  using Size = std::pair<int64_t, int64_t>;
  EXPECT_EQ(shortest_edge_size(37, 50, 32), Size(32, 43));
  EXPECT_EQ(shortest_edge_size(50, 37, 32), Size(43, 32));
  EXPECT_EQ(shortest_edge_size(28, 28, 224), Size(224, 224));
  EXPECT_EQ(shortest_edge_size(480, 640, 224), Size(224, 298));
  EXPECT_EQ(shortest_edge_size(3, 1000, 2), Size(2, 666));
  EXPECT_THROW(shortest_edge_size(0, 10, 10), Error);
}

TEST(ImageResize, CenterCropAsTransformers) {
  const auto image = torch::arange(7 * 6, torch::kInt64).to(torch::kUInt8).view({7, 6, 1});
  // Cropping starts at floor((in - out) / 2): rows 1..4 of 7, columns 1..3 of 6.
  EXPECT_TRUE(torch::equal(center_crop(image, 4, 3), image.narrow(0, 1, 4).narrow(1, 1, 3)));
  // DeiT: 256 x 256 -> 224 x 224 starts at 16.
  const auto big = torch::randint(0, 256, {256, 256, 3}, torch::kUInt8);
  EXPECT_TRUE(torch::equal(center_crop(big, 224, 224), big.narrow(0, 16, 224).narrow(1, 16, 224)));
  // Larger than the image: placed at ceil((out - in) / 2) on zeros.
  const auto padded = center_crop(image, 10, 6);  // 3 rows more: 2 above, 1 below
  EXPECT_TRUE(torch::equal(padded.narrow(0, 2, 7), image));
  EXPECT_EQ(padded.narrow(0, 0, 2).sum().item<int64_t>(), 0);
  EXPECT_EQ(padded.narrow(0, 9, 1).sum().item<int64_t>(), 0);
}

TEST(ImageResize, ShortestEdgeResizeAndCenterCropMatchesPillow) {
  // 37 x 50 -> 32 x 43 (bicubic, Pillow) -> crops computed by the fixture script as transformers.
  const auto rgb = read_image(image_path("rgb.png"));
  const auto crop = shortest_edge_resize_and_center_crop(rgb, 32, 24, 24, ResizeFilter::bicubic);
  EXPECT_TRUE(torch::equal(crop, read_u8("shortest_edge_32_crop_24x24.u8")));
  const auto padded = shortest_edge_resize_and_center_crop(rgb, 32, 40, 20, ResizeFilter::bicubic);
  EXPECT_TRUE(torch::equal(padded, read_u8("shortest_edge_32_crop_40x20.u8")));
}

}  // namespace
}  // namespace layerwise::data
