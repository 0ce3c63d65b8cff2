#include "layerwise/data/image_file.h"

#include <sys/stat.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

// libjpeg's headers need size_t and FILE declared first; jerror.h names its warning codes.
#include <jpeglib.h>

#include <jerror.h>
#include <png.h>

#include "layerwise/core/error.h"

namespace layerwise::data {

namespace {

// Errors from libpng and libjpeg arrive in a C callback that must not return. The callbacks copy
// the message and longjmp back into a small function that called setjmp and holds no C++ object
// with a destructor (longjmp would skip it); the objects that own libpng's and libjpeg's state are
// destroyed by their C++ owners after that function has returned false.

std::string too_large(const std::string& name, int64_t width, int64_t height, int64_t max_pixels) {
  return str_cat("image '", name, "' is ", width, " x ", height, " pixels: more than the ",
                 max_pixels, " read_image accepts (a decompression bomb?)");
}

// ---- PNG ----

struct PngSource {
  const uint8_t* data;
  size_t size;
  size_t position;
};

struct PngReader {
  png_structp png = nullptr;
  png_infop info = nullptr;
  PngSource source{};
  char message[256] = "";  // libpng's last error

  ~PngReader() { png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr); }
};

[[noreturn]] void png_on_error(png_structp png, png_const_charp message) {
  auto* reader = static_cast<PngReader*>(png_get_error_ptr(png));
  std::snprintf(reader->message, sizeof(reader->message), "%s", message);
  png_longjmp(png, 1);
}

// Warnings (an sRGB profile libpng dislikes, a bad ancillary chunk CRC) do not stop Pillow either.
void png_on_warning(png_structp, png_const_charp) {}

void png_read_bytes(png_structp png, png_bytep out, size_t n) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > source->size - source->position) png_error(png, "unexpected end of file");
  std::memcpy(out, source->data + source->position, n);
  source->position += n;
}

struct PngShape {
  uint32_t width = 0, height = 0;
  int channels = 0;
  size_t row_bytes = 0;
};

// Reads the header and sets the transforms to 8-bit grey, grey + alpha, RGB or RGBA.
// False (reader.message set) when libpng fails.
bool png_read_shape(PngReader& reader, PngShape& shape) {
  png_structp png = reader.png;
  png_infop info = reader.info;
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, &reader.source, png_read_bytes);
  png_read_info(png, info);
  const int color = png_get_color_type(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8)
    png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (png_get_bit_depth(png, info) == 16) png_set_scale_16(png);  // rounds v * 255 / 65535
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  shape.width = png_get_image_width(png, info);
  shape.height = png_get_image_height(png, info);
  shape.channels = png_get_channels(png, info);
  shape.row_bytes = png_get_rowbytes(png, info);
  return true;
}

bool png_read_pixels(PngReader& reader, png_bytepp rows) {
  if (setjmp(png_jmpbuf(reader.png))) return false;
  png_read_image(reader.png, rows);
  return true;
}

torch::Tensor decode_png(const uint8_t* data, size_t size, const std::string& name,
                         int64_t max_pixels) {
  PngReader reader;
  reader.source = {data, size, 0};
  reader.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, png_on_error, png_on_warning);
  if (reader.png != nullptr) reader.info = png_create_info_struct(reader.png);
  if (reader.info == nullptr) throw EnvironmentError(str_cat("out of memory reading '", name, "'"));
  PngShape shape;
  LW_CHECK(png_read_shape(reader, shape), "corrupt PNG file '", name, "': ", reader.message);
  LW_CHECK(int64_t{shape.width} * shape.height <= max_pixels,
           too_large(name, shape.width, shape.height, max_pixels));
  LW_CHECK(shape.channels >= 1 && shape.channels <= 4 &&
               shape.row_bytes == size_t{shape.width} * size_t(shape.channels),
           "PNG file '", name, "': unexpected layout after decoding (", shape.channels,
           " channels, ", shape.row_bytes, " bytes a row)");
  auto image = torch::empty({int64_t{shape.height}, int64_t{shape.width}, shape.channels},
                            torch::kUInt8);  // (H, W, C)
  std::vector<png_bytep> rows(shape.height);
  for (uint32_t y = 0; y < shape.height; ++y)
    rows[y] = image.data_ptr<uint8_t>() + size_t{y} * shape.row_bytes;
  LW_CHECK(png_read_pixels(reader, rows.data()), "corrupt or truncated PNG file '", name,
           "': ", reader.message);
  return image;
}

// ---- JPEG ----

struct JpegErrors {
  jpeg_error_mgr base;  // first member: libjpeg holds a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

struct JpegReader {
  jpeg_decompress_struct cinfo{};  // zeroed: destroying it before creation is a no-op
  JpegErrors errors{};

  ~JpegReader() { jpeg_destroy_decompress(&cinfo); }
};

// Replaces libjpeg's default, which prints and calls exit().
[[noreturn]] void jpeg_on_error(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// Warnings are ignored (Pillow decodes "extraneous bytes before marker" too), but for a file that
// ends early: libjpeg would fill the missing rows with grey, Pillow refuses the file as truncated.
void jpeg_on_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) (*cinfo->err->error_exit)(cinfo);
}

void jpeg_no_output(j_common_ptr) {}

// Reads the header (and the APP1 markers, for EXIF) and chooses the output colour space.
bool jpeg_read_shape(JpegReader& reader, const uint8_t* data, size_t size) {
  jpeg_decompress_struct& cinfo = reader.cinfo;
  cinfo.err = jpeg_std_error(&reader.errors.base);
  reader.errors.base.error_exit = jpeg_on_error;
  reader.errors.base.emit_message = jpeg_on_message;
  reader.errors.base.output_message = jpeg_no_output;
  if (setjmp(reader.errors.jump)) return false;
  jpeg_create_decompress(&cinfo);
  // const_cast: libjpeg 8's API takes a non-const buffer, libjpeg-turbo's a const one.
  jpeg_mem_src(&cinfo, const_cast<unsigned char*>(data), static_cast<unsigned long>(size));
  jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&cinfo, TRUE);
  const J_COLOR_SPACE stored = cinfo.jpeg_color_space;
  cinfo.out_color_space = stored == JCS_GRAYSCALE                    ? JCS_GRAYSCALE
                          : stored == JCS_CMYK || stored == JCS_YCCK ? JCS_CMYK
                                                                     : JCS_RGB;
  return true;
}

bool jpeg_read_pixels(JpegReader& reader, uint8_t* out, size_t row_bytes) {
  jpeg_decompress_struct& cinfo = reader.cinfo;
  if (setjmp(reader.errors.jump)) return false;
  jpeg_start_decompress(&cinfo);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out + size_t{cinfo.output_scanline} * row_bytes;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  // No jpeg_finish_decompress: every pixel is in, and bytes missing after the last scan (the EOI
  // marker) need not make the file unreadable.
  return true;
}

// Pillow's CMYK -> RGB, on Adobe's inverted CMYK as Photoshop writes it (Pillow assumes it for
// every CMYK JPEG): with k' = 255 - K, R = k' - C k' / 255 (rounded as Pillow's MULDIV255).
torch::Tensor cmyk_to_rgb(const torch::Tensor& inverted) {
  const auto cmyk = 255 - inverted.to(torch::kInt32);       // (H, W, 4)
  const auto k_inv = 255 - cmyk.narrow(2, 3, 1);            // (H, W, 1)
  const auto product = cmyk.narrow(2, 0, 3) * k_inv + 128;  // (H, W, 3)
  const auto scaled = torch::div((torch::div(product, 256, "floor") + product), 256, "floor");
  return (k_inv - scaled).clamp(0, 255).to(torch::kUInt8);  // (H, W, 3)
}

int jpeg_orientation(const jpeg_decompress_struct& cinfo) {
  // The first Exif block counts, as in Pillow.
  for (auto marker = cinfo.marker_list; marker != nullptr; marker = marker->next)
    if (marker->marker == JPEG_APP0 + 1 && marker->data_length >= 6 &&
        std::memcmp(marker->data, "Exif\0\0", 6) == 0)
      return exif_orientation(marker->data, marker->data_length);
  return 1;
}

torch::Tensor decode_jpeg(const uint8_t* data, size_t size, const std::string& name,
                          int64_t max_pixels) {
  JpegReader reader;
  LW_CHECK(jpeg_read_shape(reader, data, size), "corrupt JPEG file '", name,
           "': ", reader.errors.message);
  const jpeg_decompress_struct& cinfo = reader.cinfo;
  LW_CHECK(int64_t{cinfo.image_width} * cinfo.image_height <= max_pixels,
           too_large(name, cinfo.image_width, cinfo.image_height, max_pixels));
  const int channels = cinfo.out_color_space == JCS_GRAYSCALE ? 1
                       : cinfo.out_color_space == JCS_CMYK    ? 4
                                                              : 3;
  auto image = torch::empty({int64_t{cinfo.image_height}, int64_t{cinfo.image_width}, channels},
                            torch::kUInt8);  // (H, W, C)
  const size_t row_bytes = size_t{cinfo.image_width} * size_t(channels);
  LW_CHECK(jpeg_read_pixels(reader, image.data_ptr<uint8_t>(), row_bytes),
           "corrupt or truncated JPEG file '", name, "': ", reader.errors.message);
  LW_CHECK(cinfo.output_components == channels, "JPEG file '", name, "': decoded ",
           cinfo.output_components, " channels, expected ", channels);
  if (channels == 4) image = cmyk_to_rgb(image);
  return apply_exif_orientation(image, jpeg_orientation(cinfo));
}

// ---- formats and files ----

bool starts_with(const uint8_t* data, size_t size, const char* magic, size_t n) {
  return size >= n && std::memcmp(data, magic, n) == 0;
}

// A name for formats we recognise but do not read, for the message.
const char* other_format(const uint8_t* data, size_t size) {
  if (starts_with(data, size, "GIF8", 4)) return "GIF";
  if (starts_with(data, size, "BM", 2)) return "BMP";
  if (starts_with(data, size, "II*\0", 4) || starts_with(data, size, "MM\0*", 4)) return "TIFF";
  if (size >= 12 && starts_with(data, size, "RIFF", 4) && std::memcmp(data + 8, "WEBP", 4) == 0)
    return "WebP";
  return nullptr;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  struct stat info {};
  LW_CHECK(::stat(path.c_str(), &info) == 0, "cannot open image file '", path,
           "': ", std::strerror(errno));
  LW_CHECK(!S_ISDIR(info.st_mode), "'", path, "' is a folder, expected an image file");
  std::ifstream in(path, std::ios::binary);
  LW_CHECK(in.good(), "cannot open image file '", path, "': ", std::strerror(errno));
  std::vector<uint8_t> bytes(static_cast<size_t>(info.st_size));
  in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(bytes.size()));
  LW_CHECK(in.gcount() == std::streamsize(bytes.size()), "cannot read image file '", path, "'");
  return bytes;
}

}  // namespace

int exif_orientation(const uint8_t* data, size_t size) {
  constexpr size_t kHeader = 6;  // "Exif\0\0", then a TIFF file
  if (size < kHeader + 8 || std::memcmp(data, "Exif\0\0", kHeader) != 0) return 1;
  const uint8_t* tiff = data + kHeader;
  const size_t n = size - kHeader;
  const bool little = tiff[0] == 'I' && tiff[1] == 'I';
  if (!little && !(tiff[0] == 'M' && tiff[1] == 'M')) return 1;
  auto u16 = [&](size_t at) -> uint32_t {
    return little ? tiff[at] | tiff[at + 1] << 8 : tiff[at] << 8 | tiff[at + 1];
  };
  auto u32 = [&](size_t at) -> uint32_t {
    return little ? u16(at) | u16(at + 2) << 16 : u16(at) << 16 | u16(at + 2);
  };
  if (u16(2) != 42) return 1;
  const size_t ifd0 = u32(4);  // offset of the first directory, from the TIFF header
  if (ifd0 > n - 2) return 1;
  const size_t n_entries = u16(ifd0);
  for (size_t i = 0; i < n_entries; ++i) {
    const size_t entry = ifd0 + 2 + 12 * i;  // tag, type, count (2 + 2 + 4), value (4)
    if (entry + 12 > n) break;
    if (u16(entry) != 0x0112) continue;
    const uint32_t type = u16(entry + 2);  // 3: SHORT, 4: LONG; the value sits in the entry
    const uint32_t value = type == 3 ? u16(entry + 8) : type == 4 ? u32(entry + 8) : 1;
    return value >= 1 && value <= 8 ? int(value) : 1;
  }
  return 1;
}

torch::Tensor apply_exif_orientation(const torch::Tensor& image, int orientation) {
  switch (orientation) {
    case 2:
      return image.flip({1});  // mirrored
    case 3:
      return image.flip({0, 1});  // rotated 180
    case 4:
      return image.flip({0});  // flipped
    case 5:
      return image.transpose(0, 1).contiguous();  // transposed: (W, H, C)
    case 6:
      return image.transpose(0, 1).flip({1});  // stored turned left: turn right, (W, H, C)
    case 7:
      return image.transpose(0, 1).flip({0, 1});  // transverse: (W, H, C)
    case 8:
      return image.transpose(0, 1).flip({0});  // stored turned right: turn left, (W, H, C)
    default:
      return image;
  }
}

torch::Tensor decode_image(const uint8_t* data, size_t size, const std::string& name,
                           int64_t max_pixels) {
  static const char kPngMagic[] = "\x89PNG\r\n\x1a\n";
  if (starts_with(data, size, kPngMagic, 8)) return decode_png(data, size, name, max_pixels);
  if (starts_with(data, size, "\xff\xd8\xff", 3)) return decode_jpeg(data, size, name, max_pixels);
  LW_CHECK(size > 0, "image file '", name, "' is empty");
  const char* format = other_format(data, size);
  throw Error(str_cat("image file '", name, "' is ",
                      format != nullptr ? str_cat("a ", format, " image") : "not an image",
                      ": only PNG and JPEG are read (told by content, not by extension)"));
}

torch::Tensor read_image(const std::string& path) {
  const auto bytes = read_bytes(path);
  return decode_image(bytes.data(), bytes.size(), path);
}

torch::Tensor to_channels(const torch::Tensor& image, int64_t channels) {
  LW_CHECK(image.dim() == 3 && image.scalar_type() == torch::kUInt8 && image.size(2) >= 1 &&
               image.size(2) <= 4,
           "to_channels: expected a uint8 image (H, W, C) with C in 1..4, got ", image.sizes(), " ",
           image.scalar_type());
  LW_CHECK(channels == 1 || channels == 3, "to_channels: channels must be 1 or 3, got ", channels);
  const int64_t stored = image.size(2);
  if (stored == channels) return image;
  const auto colour = image.narrow(2, 0, stored >= 3 ? 3 : 1);  // alpha dropped: (H, W, 3 or 1)
  if (channels == 3)
    return stored >= 3 ? colour.contiguous() : colour.expand({-1, -1, 3}).contiguous();
  if (stored <= 2) return colour.contiguous();
  const auto rgb = colour.to(torch::kInt32);
  const auto r = rgb.select(2, 0), g = rgb.select(2, 1), b = rgb.select(2, 2);  // (H, W) each
  const auto luma = torch::div(r * 19595 + g * 38470 + b * 7471 + 32768, 65536, "floor");
  return luma.to(torch::kUInt8).unsqueeze(2);  // (H, W, 1)
}

}  // namespace layerwise::data
