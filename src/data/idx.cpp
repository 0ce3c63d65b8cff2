#include "layerwise/data/idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "layerwise/core/error.h"

namespace layerwise::data {

namespace {

constexpr uint8_t kTypeUbyte = 0x08;
constexpr int kMaxDims = 4;
// First buffer size while reading data; doubled as data keeps arriving (see read_data).
constexpr uint64_t kFirstChunk = uint64_t{16} << 20;
// Largest single gzread call: its length is an unsigned int and its result an int.
constexpr uint64_t kMaxRead = uint64_t{1} << 30;

// The IDX type codes, for messages about the ones we do not read.
const char* type_name(uint8_t code) {
  switch (code) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "not an IDX type";
  }
}

std::string hex_byte(uint8_t value) {
  const char* digits = "0123456789abcdef";
  return str_cat("0x", digits[value >> 4], digits[value & 15]);
}

// A file read through zlib, which inflates a gzip file and passes any other file through unchanged.
class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path) {
    struct stat info {};
    LW_CHECK(::stat(path.c_str(), &info) == 0, "cannot open IDX file '", path,
             "': ", std::strerror(errno));
    LW_CHECK(!S_ISDIR(info.st_mode), "'", path, "' is a folder, expected an IDX file");
    errno = 0;
    file_ = gzopen(path.c_str(), "rb");
    LW_CHECK(file_ != nullptr, "cannot open IDX file '", path,
             "': ", errno != 0 ? std::strerror(errno) : "out of memory");
    gzbuffer(file_, 1 << 17);  // fewer system calls than the 8 KiB default
  }
  ~Reader() { gzclose(file_); }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  /// Reads up to n bytes into out and returns how many arrived: fewer only at the end of the data.
  uint64_t read(uint8_t* out, uint64_t n) {
    uint64_t done = 0;
    while (done < n) {
      const auto chunk = static_cast<unsigned>(std::min(n - done, kMaxRead));
      const int got = gzread(file_, out + done, chunk);
      check_stream();
      if (got <= 0) break;
      done += static_cast<uint64_t>(got);
    }
    return done;
  }

  /// "IDX file 'path'" or "gzip-compressed IDX file 'path'", for messages.
  std::string name() const {
    return str_cat(gzdirect(file_) ? "" : "gzip-compressed ", "IDX file '", path_, "'");
  }

 private:
  // Throws if the last read met a read error or a corrupt (or cut-off) gzip stream.
  void check_stream() {
    int code = Z_OK;
    const char* message = gzerror(file_, &code);
    if (code == Z_OK) return;
    if (code == Z_ERRNO) {
      const std::string reason = std::strerror(errno);  // before name() can change errno
      throw Error(str_cat("cannot read ", name(), ": ", reason));
    }
    std::string reason = message;
    const std::string prefix = path_ + ": ";  // zlib starts its message with the path
    if (reason.compare(0, prefix.size(), prefix) == 0) reason.erase(0, prefix.size());
    throw Error(str_cat("corrupt gzip stream in IDX file '", path_, "': ", reason,
                        " (expected a complete gzip file)"));
  }

  std::string path_;
  gzFile file_ = nullptr;
};

struct Header {
  std::vector<int64_t> sizes;  // one per dimension
  uint64_t n_bytes = 1;        // product of the sizes
};

uint32_t big_endian_u32(const uint8_t* bytes) {
  return uint32_t{bytes[0]} << 24 | uint32_t{bytes[1]} << 16 | uint32_t{bytes[2]} << 8 | bytes[3];
}

// Reads and checks the magic number; returns the dimension count.
int read_magic(Reader& in) {
  uint8_t magic[4];
  LW_CHECK(in.read(magic, 4) == 4, in.name(),
           " is too short: expected a 4-byte magic number 00 00 08 <dims>");
  LW_CHECK(magic[0] == 0 && magic[1] == 0, in.name(), " has a bad magic number ",
           hex_byte(magic[0]), " ", hex_byte(magic[1]),
           "...: expected 00 00 08 <dims> (is it an IDX file?)");
  LW_CHECK(magic[2] == kTypeUbyte, in.name(), " has type code ", hex_byte(magic[2]), " (",
           type_name(magic[2]), "): only 0x08 (unsigned byte) is supported");
  LW_CHECK(magic[3] >= 1 && magic[3] <= kMaxDims, in.name(), " has ", int{magic[3]},
           " dimensions: expected 1 to ", kMaxDims);
  return magic[3];
}

Header read_header(Reader& in) {
  const int n_dims = read_magic(in);
  uint8_t raw[4 * kMaxDims];
  LW_CHECK(in.read(raw, 4 * n_dims) == uint64_t(4 * n_dims), in.name(),
           " ends inside its header: expected ", n_dims, " 4-byte sizes");
  Header header;
  for (int i = 0; i < n_dims; ++i) header.sizes.push_back(big_endian_u32(raw + 4 * i));
  for (const int64_t size : header.sizes) {
    // Dividing instead of multiplying first: the product of four uint32 can overflow 64 bits.
    LW_CHECK(size == 0 || header.n_bytes <= kIdxMaxBytes / uint64_t(size), in.name(), " has shape ",
             c10::IntArrayRef(header.sizes), ": more than the 4 GiB (", kIdxMaxBytes,
             " bytes) read_idx accepts (corrupt header?)");
    header.n_bytes *= uint64_t(size);
  }
  return header;
}

// Reads exactly header.n_bytes and checks that the data ends there. The buffer grows with the bytes
// that really arrive, so a header promising more than the file holds costs no more memory than the
// file's content (a gzip file's size cannot be known before inflating it).
torch::Tensor read_data(Reader& in, const Header& header) {
  const auto n = static_cast<int64_t>(header.n_bytes);
  int64_t capacity = std::min<int64_t>(n, kFirstChunk);
  auto data = torch::empty({capacity}, torch::kUInt8);  // (capacity)
  int64_t done = 0;
  while (true) {
    done += in.read(data.data_ptr<uint8_t>() + done, capacity - done);
    if (done < capacity || capacity == n) break;
    capacity = std::min(n, 2 * capacity);
    data.resize_({capacity});  // keeps the bytes read so far
  }
  const c10::IntArrayRef shape(header.sizes);
  LW_CHECK(done == n, in.name(), " is truncated: its header (shape ", shape, ") promises ", n,
           " data bytes, the file holds ", done);
  uint8_t extra = 0;
  LW_CHECK(in.read(&extra, 1) == 0, in.name(), " has bytes after the ", n,
           " data bytes its header (shape ", shape, ") describes");
  return data.view(shape);  // (sizes...)
}

}  // namespace

torch::Tensor read_idx(const std::string& path) {
  Reader in(path);
  const Header header = read_header(in);
  return read_data(in, header);
}

}  // namespace layerwise::data
