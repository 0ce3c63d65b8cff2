// libFuzzer target: PNG and JPEG decoding (libpng, libjpeg-turbo, our EXIF reader, the channel
// conversions) on arbitrary bytes. Any input must either decode or raise layerwise::Error; a crash,
// a sanitizer report, a leak or a huge allocation is a finding.
#include <cstdint>

#include "layerwise/core/error.h"
#include "layerwise/data/image_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    // 2^22 pixels: the copies of a legal image of Pillow's 89 M pixels, under ASan, would pass the
    // fuzzer's 2 GB memory limit without any fault of the decoder's.
    const auto image = layerwise::data::decode_image(data, size, "fuzz input", int64_t{1} << 22);
    (void)layerwise::data::to_channels(image, 1);
    (void)layerwise::data::to_channels(image, 3);
  } catch (const layerwise::Error&) {
  }
  return 0;
}
