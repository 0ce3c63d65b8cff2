#include "layerwise/data/image_write.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>

// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>
#include <png.h>

#include "layerwise/core/error.h"

namespace layerwise::data {

namespace {

torch::Tensor checked(const torch::Tensor& image, int64_t max_channels, const char* what) {
  LW_CHECK(image.dim() == 3 && image.scalar_type() == torch::kUInt8 && image.size(0) >= 1 &&
               image.size(1) >= 1 && image.size(2) >= 1 && image.size(2) <= max_channels,
           what, ": expected a uint8 image (H, W, C) with C <= ", max_channels, ", got ",
           image.sizes(), " ", image.scalar_type());
  return image.contiguous();
}

// libjpeg reports errors through a callback that must not return: it longjmps back into
// compress(), which holds no C++ object with a destructor.
struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_write_on_error(j_common_ptr info) {
  auto* error = reinterpret_cast<JpegError*>(info->err);
  info->err->format_message(info, error->message);
  std::longjmp(error->jump, 1);
}

// An APP1 "Exif" payload holding one IFD entry: Orientation (0x0112, SHORT, 1 value) =
// orientation, big-endian ("MM"), the IFD at offset 8 of the TIFF header, no next IFD.
constexpr size_t kExifSize = 6 + 8 + 2 + 12 + 4;

void exif_block(int orientation, unsigned char (&out)[kExifSize]) {
  const unsigned char block[kExifSize] = {'E',  'x',
                                          'i',  'f',
                                          0,    0,  // header
                                          'M',  'M',
                                          0,    42,
                                          0,    0,
                                          0,    8,  // TIFF, first IFD at 8
                                          0,    1,  // one entry
                                          0x01, 0x12,
                                          0,    3,
                                          0,    0,
                                          0,    1,  // Orientation, SHORT, count 1
                                          0,    static_cast<unsigned char>(orientation),
                                          0,    0,  // the value, padded to 4 bytes
                                          0,    0,
                                          0,    0};  // no next IFD
  std::memcpy(out, block, sizeof(block));
}

// False with `message` set on a libjpeg error; `buffer` is malloc'ed by libjpeg.
bool compress(const uint8_t* pixels, int height, int width, int channels, int quality,
              int orientation, unsigned char** buffer, unsigned long* size, char* message) {
  jpeg_compress_struct info;
  JpegError error;
  info.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = jpeg_write_on_error;
  if (setjmp(error.jump)) {
    std::strcpy(message, error.message);
    jpeg_destroy_compress(&info);
    return false;
  }
  jpeg_create_compress(&info);
  jpeg_mem_dest(&info, buffer, size);
  info.image_width = JDIMENSION(width);
  info.image_height = JDIMENSION(height);
  info.input_components = channels;
  info.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  if (orientation >= 2 && orientation <= 8) {
    unsigned char exif[kExifSize];
    exif_block(orientation, exif);
    jpeg_write_marker(&info, JPEG_APP0 + 1, exif, sizeof(exif));
  }
  while (info.next_scanline < info.image_height) {
    auto* row = const_cast<JSAMPROW>(pixels + size_t(info.next_scanline) * width * channels);
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  return true;
}

}  // namespace

std::string encode_png(const torch::Tensor& image) {
  const auto pixels = checked(image, 4, "encode_png");
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  png.width = png_uint_32(pixels.size(1));
  png.height = png_uint_32(pixels.size(0));
  const png_uint_32 formats[] = {PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB, PNG_FORMAT_RGBA};
  png.format = formats[pixels.size(2) - 1];
  png_alloc_size_t size = 0;  // first call: the size needed
  const auto* data = pixels.data_ptr<uint8_t>();
  LW_CHECK(png_image_write_to_memory(&png, nullptr, &size, 0, data, 0, nullptr),
           "encode_png: ", png.message);
  std::string out(size, '\0');
  LW_CHECK(png_image_write_to_memory(&png, out.data(), &size, 0, data, 0, nullptr),
           "encode_png: ", png.message);
  out.resize(size);
  return out;
}

std::string encode_jpeg(const torch::Tensor& image, int quality, int exif_orientation) {
  const auto pixels = checked(image, 3, "encode_jpeg");
  LW_CHECK(pixels.size(2) != 2, "encode_jpeg: grey + alpha has no JPEG form");
  LW_CHECK(quality >= 1 && quality <= 100, "encode_jpeg: quality must be in 1..100, got ", quality);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  char message[JMSG_LENGTH_MAX] = "";
  const bool ok = compress(pixels.data_ptr<uint8_t>(), int(pixels.size(0)), int(pixels.size(1)),
                           int(pixels.size(2)), quality, exif_orientation, &buffer, &size, message);
  std::string out = ok ? std::string(reinterpret_cast<const char*>(buffer), size) : "";
  std::free(buffer);
  LW_CHECK(ok, "encode_jpeg: ", message);
  return out;
}

}  // namespace layerwise::data
