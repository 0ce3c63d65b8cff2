// The image fixtures of tests/fixtures/images (written by tests/fixtures/make_image_fixtures.py
// with Pillow), shared by the image tests.
#pragma once

#include <fstream>
#include <string>

#include "test_util.h"

namespace layerwise::testing {

inline std::string image_path(const std::string& name) {
  return fixture("images/" + name);
}

/// A reference array written by the fixture script: "H W C\n", then the bytes. uint8 (H, W, C).
inline torch::Tensor read_u8(const std::string& name) {
  std::ifstream in(image_path(name), std::ios::binary);
  int64_t h = 0, w = 0, c = 0;
  in >> h >> w >> c;
  in.get();                                           // the newline
  auto out = torch::zeros({h, w, c}, torch::kUInt8);  // (H, W, C)
  in.read(reinterpret_cast<char*>(out.data_ptr<uint8_t>()), h * w * c);
  EXPECT_TRUE(in && h > 0) << "cannot read the fixture " << name;
  return out;
}

}  // namespace layerwise::testing
