// data/image_file: PNG and JPEG decoding against the pixels Pillow wrote and read
// (tests/fixtures/make_image_fixtures.py), EXIF orientation, errors, Pillow's channel conversions.
#include "layerwise/data/image_file.h"

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "image_fixtures.h"

namespace layerwise::data {
namespace {

using layerwise::testing::error_message;
using layerwise::testing::fixture;
using layerwise::testing::image_path;
using layerwise::testing::read_u8;

void expect_same_pixels(const torch::Tensor& ours, const torch::Tensor& expected,
                        const std::string& what) {
  ASSERT_EQ(ours.sizes(), expected.sizes()) << what;
  EXPECT_EQ(ours.scalar_type(), torch::kUInt8) << what;
  EXPECT_TRUE(torch::equal(ours, expected))
      << what << ": max difference " << layerwise::testing::max_diff(ours, expected);
}

TEST(ImageFile, PngModesDecodeAsStored) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"grey.png", "grey.u8"},                  // (28, 28, 1)
      {"rgb.png", "rgb.u8"},                    // (37, 50, 3)
      {"rgba.png", "rgba.u8"},                  // (37, 50, 4)
      {"la.png", "la.u8"},                      // grey + alpha: (37, 50, 2)
      {"palette.png", "palette.u8"},            // palette -> RGB
      {"palette_trns.png", "palette_trns.u8"},  // palette with transparency -> RGBA
      {"rgb_trns.png", "rgb_trns.u8"},          // RGB colour key -> RGBA
      {"grey16.png", "grey16.u8"},              // 16-bit -> round(v * 255 / 65535)
      {"rgb16.png", "rgb16.u8"},
      {"grey4.png", "grey4.u8"},  // 4-bit grey -> v * 17
  };
  for (const auto& [file, reference] : cases)
    expect_same_pixels(read_image(image_path(file)), read_u8(reference), file);
}

TEST(ImageFile, JpegDecodesAsPillow) {
  // Pillow on Debian links the same libjpeg-turbo: the pixels agree exactly.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"rgb.jpg", "rgb_jpg.u8"},
      {"rgb_progressive.jpg", "rgb_progressive_jpg.u8"},
      {"grey.jpg", "grey_jpg.u8"},
      {"cmyk.jpg", "cmyk_jpg.u8"},  // CMYK -> RGB as Pillow's convert("RGB")
  };
  for (const auto& [file, reference] : cases)
    expect_same_pixels(read_image(image_path(file)), read_u8(reference), file);
}

TEST(ImageFile, ExifOrientationIsApplied) {
  for (int orientation = 1; orientation <= 8; ++orientation) {
    const auto name = "exif_" + std::to_string(orientation);
    const auto image = read_image(image_path(name + ".jpg"));
    // Stored 7 x 12; orientations 5..8 swap height and width.
    EXPECT_EQ(image.size(0), orientation >= 5 ? 12 : 7) << name;
    expect_same_pixels(image, read_u8(name + ".u8"), name);
  }
  expect_same_pixels(read_image(image_path("exif_6_big_endian.jpg")), read_u8("exif_6.u8"),
                     "big-endian EXIF");
  // An EXIF block that cannot be parsed leaves the image as stored, readable.
  expect_same_pixels(read_image(image_path("exif_broken.jpg")), read_u8("exif_1.u8"),
                     "broken EXIF");
}

std::vector<uint8_t> exif_bytes(bool big_endian, uint16_t tag, uint16_t type, uint32_t value) {
  std::vector<uint8_t> out = {'E', 'x', 'i', 'f', 0, 0};
  auto put = [&](uint32_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(uint8_t(v >> (8 * (big_endian ? n - 1 - i : i))));
  };
  out.push_back(big_endian ? 'M' : 'I');
  out.push_back(big_endian ? 'M' : 'I');
  put(42, 2);
  put(8, 4);  // IFD0 right after the header
  put(1, 2);  // one entry
  put(tag, 2);
  put(type, 2);
  put(1, 4);
  if (type == 3) {
    put(value, 2);
    put(0, 2);
  } else {
    put(value, 4);
  }
  put(0, 4);  // no next IFD
  return out;
}

TEST(ImageFile, ExifOrientationParser) {
  auto parse = [](const std::vector<uint8_t>& b) { return exif_orientation(b.data(), b.size()); };
  EXPECT_EQ(parse(exif_bytes(false, 0x0112, 3, 6)), 6);
  EXPECT_EQ(parse(exif_bytes(true, 0x0112, 3, 8)), 8);
  EXPECT_EQ(parse(exif_bytes(true, 0x0112, 4, 3)), 3);   // LONG
  EXPECT_EQ(parse(exif_bytes(false, 0x0112, 3, 9)), 1);  // not an orientation
  EXPECT_EQ(parse(exif_bytes(false, 0x0110, 3, 6)), 1);  // another tag
  auto cut = exif_bytes(false, 0x0112, 3, 6);
  cut.resize(cut.size() - 10);  // the entry runs past the end
  EXPECT_EQ(parse(cut), 1);
  auto far = exif_bytes(false, 0x0112, 3, 6);
  far[10] = 0xff;  // IFD0 offset beyond the block
  EXPECT_EQ(parse(far), 1);
  EXPECT_EQ(exif_orientation(far.data(), 3), 1);
}

TEST(ImageFile, BadFilesNameTheFileAndTheProblem) {
  auto expect_error = [](const std::string& file, const std::string& part) {
    const auto path = image_path(file);
    const auto message = error_message([&] { read_image(path); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(part), std::string::npos) << file << ": " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  };
  expect_error("missing.png", "No such file");
  expect_error("truncated.png", "corrupt or truncated PNG");
  expect_error("corrupt.png", "corrupt or truncated PNG file");  // a damaged IDAT
  expect_error("truncated.jpg", "Premature end of JPEG file");
  expect_error("not_an_image.png", "not an image: only PNG and JPEG");
  expect_error("gif_named.jpg", "a GIF image");
  expect_error("bomb.png", "20000 x 20000 pixels");
  const auto folder = error_message([] { read_image(fixture("images")); });
  EXPECT_NE(folder.find("is a folder"), std::string::npos) << folder;
  const auto empty = error_message([] { decode_image(nullptr, 0, "nothing.png"); });
  EXPECT_NE(empty.find("'nothing.png' is empty"), std::string::npos) << empty;
}

TEST(ImageFile, EveryPrefixOfAFileFailsCleanly) {
  // Cut anywhere before its last 12 bytes (PNG's IEND chunk, which read_image does not need), a
  // file gives a layerwise::Error: never a crash, an exit() or made-up pixels.
  for (const std::string file : {"rgb.png", "rgb_progressive.jpg"}) {
    std::ifstream in(image_path(file), std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    for (size_t n = 0; n + 12 < bytes.size(); n += 97)
      EXPECT_THROW(decode_image(bytes.data(), n, file), layerwise::Error) << file << " " << n;
    EXPECT_EQ(decode_image(bytes.data(), bytes.size(), file).size(0), 37);
  }
}

TEST(ImageFile, ChannelConversionsMatchPillow) {
  const auto rgb = read_u8("rgb.u8"), rgba = read_u8("rgba.u8"), la = read_u8("la.u8");
  expect_same_pixels(to_channels(rgb, 1), read_u8("rgb_to_l.u8"), "RGB -> L");
  expect_same_pixels(to_channels(rgba, 1), read_u8("rgba_to_l.u8"), "RGBA -> L");
  expect_same_pixels(to_channels(rgba, 3), read_u8("rgba_to_rgb.u8"), "RGBA -> RGB");
  expect_same_pixels(to_channels(la, 3), read_u8("la_to_rgb.u8"), "LA -> RGB");
  expect_same_pixels(to_channels(la, 1), la.narrow(2, 0, 1), "LA -> L");
  const auto grey = read_u8("grey.u8");
  expect_same_pixels(to_channels(grey, 3), grey.expand({-1, -1, 3}), "L -> RGB");
  EXPECT_TRUE(to_channels(grey, 1).is_same(grey));
  // Grey stays grey through RGB and back (the luma weights sum to 2^16).
  expect_same_pixels(to_channels(to_channels(grey, 3), 1), grey, "L -> RGB -> L");
  EXPECT_THROW(to_channels(rgb, 2), layerwise::Error);
  EXPECT_THROW(to_channels(rgb.to(torch::kFloat32), 1), layerwise::Error);
}

// Found by scripts/fuzz.sh image: 559 bytes of JPEG declaring 65036 x 1021 pixels, which with the
// EXIF and channel copies took over 2 GB under the fuzzer; still a valid image, read as Pillow
// reads it. The pixel limit is now Pillow's (kMaxImagePixels).
TEST(ImageFile, ATinyJpegDeclaringAHugeImageDecodes) {
  const auto image = read_image(image_path("fuzz_jpeg_bomb.jpg"));
  EXPECT_EQ(image.size(0) * image.size(1), int64_t{65036} * 1021);
  EXPECT_EQ(image.size(2), 3);
  EXPECT_LE(image.size(0) * image.size(1), kMaxImagePixels);
}

}  // namespace
}  // namespace layerwise::data
