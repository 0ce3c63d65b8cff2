#include <sys/stat.h>
#include <zlib.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "layerwise/core/error.h"
#include "layerwise/data/idx.h"
#include "layerwise/data/image_dataset.h"
#include "test_util.h"

namespace layerwise::data {
namespace {

using layerwise::testing::error_message;
using layerwise::testing::contains;

std::string be_u32(uint32_t value) {
  std::string bytes;
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(value >> shift));
  return bytes;
}

/// An IDX file made by hand per the format: 00 00 <type> <dims>, big-endian sizes, data.
std::string idx_bytes(const std::vector<uint32_t>& sizes, const std::string& data,
                      uint8_t type = 0x08) {
  std::string bytes{'\0', '\0', static_cast<char>(type), static_cast<char>(sizes.size())};
  for (const uint32_t size : sizes) bytes += be_u32(size);
  return bytes + data;
}

/// n bytes following a pattern that covers 0..255 and differs between neighbours.
std::string pattern(size_t n) {
  std::string data;
  for (size_t i = 0; i < n; ++i) data.push_back(static_cast<char>((i * 37 + 5) % 256));
  return data;
}

void write_plain(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(file), Z_OK) << path;
}

std::string read_plain(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// The expected tensor for pattern() data of the given shape.
torch::Tensor pattern_tensor(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (const int64_t size : shape) n *= size;
  return ((torch::arange(n, torch::kInt64) * 37 + 5) % 256).to(torch::kUInt8).view(shape);
}

bool have_fashion_mnist() {
  struct stat info {};
  return ::stat(kFashionMnistDir, &info) == 0;
}

/// Each test gets its own empty folder, removed afterwards.
class DataFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = layerwise::testing::temp_dir(str_cat("data_", counter++));
  }
  void TearDown() override { layerwise::testing::remove_tree(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  /// Writes `bytes` as a plain file and returns read_idx's error message for it.
  std::string plain_error(const std::string& name, const std::string& bytes) {
    write_plain(path(name), bytes);
    const std::string message = error_message([&] { read_idx(path(name)); });
    EXPECT_PRED2(contains, message, path(name));
    return message;
  }
  /// The same for a gzip-compressed file.
  std::string gzip_error(const std::string& name, const std::string& bytes) {
    write_gzip(path(name), bytes);
    const std::string message = error_message([&] { read_idx(path(name)); });
    EXPECT_PRED2(contains, message, path(name));
    return message;
  }

  std::string dir_;
};

using IdxRead = DataFiles;
using IdxErrors = DataFiles;
using ImageDataPair = DataFiles;
using ImageDataFashionMnist = DataFiles;

TEST_F(IdxRead, PlainFileReadBackExactly) {
  write_plain(path("a.idx"), idx_bytes({2, 3, 4}, pattern(24)));
  const auto tensor = read_idx(path("a.idx"));
  EXPECT_EQ(tensor.scalar_type(), torch::kUInt8);
  EXPECT_EQ(tensor.sizes(), torch::IntArrayRef({2, 3, 4}));
  EXPECT_TRUE(torch::equal(tensor, pattern_tensor({2, 3, 4})));
  EXPECT_EQ(tensor[1][2][3].item<int>(), (23 * 37 + 5) % 256);  // the last byte, row-major
}

TEST_F(IdxRead, GzipFileReadBackExactly) {
  write_gzip(path("a.idx.gz"), idx_bytes({2, 3, 4}, pattern(24)));
  EXPECT_NE(read_plain(path("a.idx.gz")).substr(0, 2), std::string("\0\0", 2));  // compressed
  EXPECT_TRUE(torch::equal(read_idx(path("a.idx.gz")), pattern_tensor({2, 3, 4})));
}

TEST_F(IdxRead, LargerThanOneReadBuffer) {
  // 17 MiB: more than the first 16 MiB buffer, so the growing read is exercised.
  const uint32_t rows = 17 * 1024;
  const std::string data = pattern(size_t{rows} * 1024);
  write_plain(path("big"), idx_bytes({rows, 1024}, data));
  const auto expected = torch::from_blob(const_cast<char*>(data.data()), {rows, 1024},
                                         torch::kUInt8);  // (rows, 1024), a view of `data`
  EXPECT_TRUE(torch::equal(read_idx(path("big")), expected));
}

TEST_F(IdxRead, OneToFourDimensions) {
  write_plain(path("1d"), idx_bytes({5}, pattern(5)));
  EXPECT_TRUE(torch::equal(read_idx(path("1d")), pattern_tensor({5})));
  write_gzip(path("4d"), idx_bytes({2, 1, 3, 2}, pattern(12)));
  EXPECT_TRUE(torch::equal(read_idx(path("4d")), pattern_tensor({2, 1, 3, 2})));
}

TEST_F(IdxRead, ZeroSizeGivesEmptyTensor) {
  write_plain(path("empty"), idx_bytes({0, 28, 28}, ""));
  EXPECT_EQ(read_idx(path("empty")).sizes(), torch::IntArrayRef({0, 28, 28}));
}

TEST_F(IdxErrors, MissingFile) {
  const auto message = error_message([&] { read_idx(path("absent.gz")); });
  EXPECT_PRED2(contains, message, path("absent.gz"));
  EXPECT_PRED2(contains, message, "No such file");
}

TEST_F(IdxErrors, FolderInsteadOfFile) {
  EXPECT_PRED2(contains, error_message([&] { read_idx(dir_); }), "'" + dir_ + "' is a folder");
}

TEST_F(IdxErrors, EmptyFile) {
  EXPECT_PRED2(contains, plain_error("empty", ""), "too short");
  EXPECT_PRED2(contains, gzip_error("empty.gz", ""), "too short");
}

TEST_F(IdxErrors, BadMagic) {
  EXPECT_PRED2(contains, plain_error("png", "\x89PNG\r\n\x1a\n" + pattern(20)),
               "bad magic number 0x89 0x50");
  EXPECT_PRED2(contains, gzip_error("text.gz", "hello world, not idx"), "bad magic number");
}

TEST_F(IdxErrors, UnsupportedTypeCode) {
  const auto message = plain_error("float", idx_bytes({2}, pattern(8), 0x0D));
  EXPECT_PRED2(contains, message, "type code 0x0d (float32)");
  EXPECT_PRED2(contains, message, "only 0x08 (unsigned byte)");
  EXPECT_PRED2(contains, plain_error("junk", idx_bytes({2}, pattern(2), 0x42)), "not an IDX type");
}

TEST_F(IdxErrors, DimensionCount) {
  EXPECT_PRED2(contains, plain_error("0d", idx_bytes({}, pattern(1))), "0 dimensions");
  EXPECT_PRED2(contains, gzip_error("5d", idx_bytes({1, 1, 1, 1, 1}, pattern(1))),
               "5 dimensions: expected 1 to 4");
}

TEST_F(IdxErrors, HeaderCutShort) {
  // Three dimensions announced, only one and a half sizes present.
  const std::string bytes = idx_bytes({10, 28, 28}, "").substr(0, 10);
  EXPECT_PRED2(contains, plain_error("cut", bytes), "ends inside its header");
}

TEST_F(IdxErrors, HugeSizes) {
  // 65536 x 65536 x 2 = 8 GiB and 4 x (2^32 - 1), whose product overflows 64 bits.
  EXPECT_PRED2(contains, plain_error("8g", idx_bytes({65536, 65536, 2}, pattern(16))),
               "shape [65536, 65536, 2]: more than the 4 GiB (4294967296 bytes)");
  EXPECT_PRED2(contains, gzip_error("overflow.gz", idx_bytes({~0u, ~0u, ~0u, ~0u}, pattern(16))),
               "more than the 4 GiB (4294967296 bytes)");
}

TEST_F(IdxErrors, SizeAtLimitButNoDataFailsWithoutReadingIt) {
  // 4 GiB exactly is accepted by the header check; the tiny file then reports what it holds.
  EXPECT_PRED2(contains, gzip_error("liar.gz", idx_bytes({65536, 65536}, pattern(3))),
               "promises 4294967296 data bytes, the file holds 3");
}

TEST_F(IdxErrors, TruncatedData) {
  const std::string bytes = idx_bytes({2, 3, 4}, pattern(23));
  EXPECT_PRED2(contains, plain_error("short", bytes),
               "truncated: its header (shape [2, 3, 4]) promises 24 data bytes, the file "
               "holds 23");
  EXPECT_PRED2(contains, gzip_error("short.gz", bytes),
               "promises 24 data bytes, the file holds 23");
}

TEST_F(IdxErrors, TrailingBytes) {
  const std::string bytes = idx_bytes({2, 3, 4}, pattern(25));
  EXPECT_PRED2(contains, plain_error("long", bytes), "has bytes after the 24 data bytes");
  const auto message = gzip_error("long.gz", bytes);
  EXPECT_PRED2(contains, message, "gzip-compressed IDX file");
  EXPECT_PRED2(contains, message, "has bytes after the 24 data bytes");
}

TEST_F(IdxErrors, CorruptGzipStream) {
  write_gzip(path("good.gz"), idx_bytes({64, 64}, pattern(64 * 64)));
  const std::string good = read_plain(path("good.gz"));
  std::string flipped = good;
  flipped[flipped.size() - 6] ^= 0x55;  // inside the CRC-32 of the trailer
  write_plain(path("crc.gz"), flipped);
  auto message = error_message([&] { read_idx(path("crc.gz")); });
  EXPECT_PRED2(contains, message,
               "corrupt gzip stream in IDX file '" + path("crc.gz") + "': incorrect data check");

  write_plain(path("cut.gz"), good.substr(0, good.size() / 2));  // the stream stops mid-way
  message = error_message([&] { read_idx(path("cut.gz")); });
  EXPECT_PRED2(contains, message,
               "corrupt gzip stream in IDX file '" + path("cut.gz") + "': unexpected end of file");
}

TEST_F(ImageDataPair, LoadsScaledImagesAndLabels) {
  write_gzip(path("images.gz"),
             idx_bytes({3, 2, 2}, std::string("\x00\xff\x01\x80", 4) + pattern(8)));
  write_plain(path("labels"), idx_bytes({3}, std::string("\x02\x00\x01", 3)));
  const auto data = load_idx_pair(path("images.gz"), path("labels"));
  EXPECT_EQ(data.images.sizes(), torch::IntArrayRef({3, 1, 2, 2}));
  EXPECT_EQ(data.images.scalar_type(), torch::kFloat32);
  EXPECT_EQ(data.images[0][0][0][1].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(data.images[0][0][1][1].item<float>(), 128.0f / 255.0f);
  EXPECT_EQ(data.labels.scalar_type(), torch::kInt64);
  EXPECT_TRUE(torch::equal(data.labels, torch::tensor({2, 0, 1}, torch::kInt64)));
  EXPECT_EQ(data.size(), 3);
  EXPECT_EQ(data.n_classes, 3);
  EXPECT_EQ(data.class_names, (std::vector<std::string>{"0", "1", "2"}));
}

TEST_F(ImageDataPair, MismatchedCountNamesBothFiles) {
  write_plain(path("images"), idx_bytes({3, 2, 2}, pattern(12)));
  write_plain(path("labels"), idx_bytes({4}, pattern(4)));
  const auto message = error_message([&] { load_idx_pair(path("images"), path("labels")); });
  EXPECT_PRED2(contains, message, "'" + path("images") + "' holds 3 images");
  EXPECT_PRED2(contains, message, "'" + path("labels") + "' holds 4 labels");
}

TEST_F(ImageDataPair, WrongShapesAndEmptyFiles) {
  write_plain(path("images"), idx_bytes({3, 2, 2}, pattern(12)));
  write_plain(path("labels"), idx_bytes({3}, pattern(3)));
  EXPECT_PRED2(contains, error_message([&] { load_idx_pair(path("labels"), path("labels")); }),
               "'" + path("labels") + "' has shape [3]: expected 3 dimensions");
  EXPECT_PRED2(contains, error_message([&] { load_idx_pair(path("images"), path("images")); }),
               "'" + path("images") + "' has shape [3, 2, 2]: expected 1 dimension");
  write_plain(path("no_images"), idx_bytes({0, 2, 2}, ""));
  write_plain(path("no_labels"), idx_bytes({0}, ""));
  EXPECT_PRED2(contains,
               error_message([&] { load_idx_pair(path("no_images"), path("no_labels")); }),
               "hold no samples");
}

TEST_F(ImageDataFashionMnist, MissingFolderSaysHowToFix) {
  const std::string absent = path("nowhere");
  const auto message = error_message([&] { load_fashion_mnist(absent, "test"); });
  EXPECT_PRED2(contains, message, "'" + absent + "' not found");
  EXPECT_PRED2(contains, message, "dataset-fashion-mnist");
  EXPECT_PRED2(contains, message, "--data-dir");
}

TEST_F(ImageDataFashionMnist, MissingFileNamesIt) {
  const auto message = error_message([&] { load_fashion_mnist(dir_, "train"); });
  EXPECT_PRED2(contains, message, path("train-labels-idx1-ubyte.gz"));
  EXPECT_PRED2(contains, message, "--data-dir");
}

TEST_F(ImageDataFashionMnist, UnknownSplit) {
  EXPECT_PRED2(contains, error_message([&] { load_fashion_mnist(dir_, "validation"); }),
               "'validation': expected 'train' or 'test'");
}

TEST_F(ImageDataFashionMnist, ReadsUncompressedFilesAndChecksLabels) {
  write_plain(path("t10k-images-idx3-ubyte"), idx_bytes({2, 28, 28}, pattern(2 * 28 * 28)));
  write_plain(path("t10k-labels-idx1-ubyte"), idx_bytes({2}, std::string("\x03\x09", 2)));
  const auto data = load_fashion_mnist(dir_, "test");
  EXPECT_EQ(data.images.sizes(), torch::IntArrayRef({2, 1, 28, 28}));
  EXPECT_EQ(data.n_classes, 10);
  EXPECT_EQ(data.class_names.size(), 10u);

  write_plain(path("t10k-labels-idx1-ubyte"), idx_bytes({2}, std::string("\x03\x0a", 2)));
  EXPECT_PRED2(contains, error_message([&] { load_fashion_mnist(dir_, "test"); }),
               "'" + path("t10k-labels-idx1-ubyte") + "' holds label 10");
}

TEST(ImageDataFashionMnistReal, TestSplit) {
  if (!have_fashion_mnist()) GTEST_SKIP() << kFashionMnistDir << " absent";
  const auto data = load_fashion_mnist("", "test");  // "" = the default folder
  EXPECT_EQ(data.images.sizes(), torch::IntArrayRef({10000, 1, 28, 28}));
  EXPECT_EQ(data.labels.sizes(), torch::IntArrayRef({10000}));
  EXPECT_TRUE(torch::equal(torch::bincount(data.labels), torch::full({10}, 1000, torch::kInt64)));
  EXPECT_EQ(data.images.min().item<float>(), 0.0f);
  EXPECT_EQ(data.images.max().item<float>(), 1.0f);
  // Sample 0, checked with Python's gzip on the raw file: an ankle boot, pixel (14, 14) = 110,
  // pixel sum 33456.
  EXPECT_EQ(data.labels[0].item<int64_t>(), 9);
  EXPECT_EQ(data.class_names[9], "Ankle boot");
  EXPECT_FLOAT_EQ(data.images[0][0][14][14].item<float>(), 110.0f / 255.0f);
  EXPECT_NEAR(data.images[0].sum().item<double>() * 255.0, 33456.0, 1e-2);
}

TEST(ImageDataFashionMnistReal, TrainSplitAndNormalizationConstants) {
  if (!have_fashion_mnist()) GTEST_SKIP() << kFashionMnistDir << " absent";
  const auto data = load_fashion_mnist(kFashionMnistDir, "train");
  EXPECT_EQ(data.images.sizes(), torch::IntArrayRef({60000, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(torch::bincount(data.labels), torch::full({10}, 6000, torch::kInt64)));
  // float32 sums are cascaded in LibTorch: accurate to ~1e-6 here, and 25x faster than float64.
  EXPECT_NEAR(data.images.mean().item<double>(), kFashionMnistMean, 1e-4);
  EXPECT_NEAR(data.images.std(/*unbiased=*/false).item<double>(), kFashionMnistStd, 1e-4);
  const auto normalized = normalize_images(data.images, kFashionMnistMean, kFashionMnistStd);
  EXPECT_NEAR(normalized.mean().item<double>(), 0.0, 1e-3);
  EXPECT_NEAR(normalized.std().item<double>(), 1.0, 1e-3);
}

TEST(ImageDataNormalize, ShiftsAndScales) {
  const auto images = torch::tensor({0.0f, 0.5f, 1.0f}).view({1, 1, 1, 3});  // (N, 1, H, W)
  const auto normalized = normalize_images(images, 0.5, 0.25);
  EXPECT_TRUE(torch::allclose(normalized, torch::tensor({-2.0f, 0.0f, 2.0f}).view({1, 1, 1, 3})));
  EXPECT_PRED2(contains, error_message([&] { normalize_images(images, 0.5, 0.0); }),
               "positive std, got mean 0.5, std 0");
}

/// Sorted concatenation of tensors, for coverage checks.
torch::Tensor sorted_cat(const std::vector<torch::Tensor>& parts) {
  return std::get<0>(torch::cat(parts).sort());
}

TEST(ImageDataSplit, DisjointCoveringAndSized) {
  const auto split = split_train_val(1000, 0.1, 7);
  EXPECT_EQ(split.val_index.numel(), 100);
  EXPECT_EQ(split.train_index.numel(), 900);
  EXPECT_EQ(split.train_index.scalar_type(), torch::kInt64);
  // Disjoint and covering at once: together they are 0..999, each once.
  EXPECT_TRUE(torch::equal(sorted_cat({split.train_index, split.val_index}),
                           torch::arange(1000, torch::kInt64)));
  // A shuffled selection, not the first or last 100.
  EXPECT_FALSE(torch::equal(split.val_index, torch::arange(100, torch::kInt64)));
  EXPECT_FALSE(torch::equal(split.val_index, torch::arange(900, 1000, torch::kInt64)));
}

TEST(ImageDataSplit, SameSeedSameSplitOtherSeedOther) {
  const auto a = split_train_val(500, 0.2, 42);
  const auto b = split_train_val(500, 0.2, 42);
  const auto c = split_train_val(500, 0.2, 43);
  EXPECT_TRUE(torch::equal(a.train_index, b.train_index));
  EXPECT_TRUE(torch::equal(a.val_index, b.val_index));
  EXPECT_FALSE(torch::equal(a.val_index, c.val_index));
}

TEST(ImageDataSplit, EdgeFractions) {
  EXPECT_EQ(split_train_val(10, 0.0, 1).val_index.numel(), 0);
  EXPECT_EQ(split_train_val(10, 0.0, 1).train_index.numel(), 10);
  EXPECT_EQ(split_train_val(10, 0.99, 1).train_index.numel(), 1);  // training keeps one sample
  EXPECT_EQ(split_train_val(0, 0.5, 1).train_index.numel(), 0);
  for (const double bad : {1.0, -0.1, std::nan("")})
    EXPECT_PRED2(contains, error_message([&] { split_train_val(10, bad, 1); }),
                 "validation fraction must be in [0, 1)");
}

TEST(ImageDataBatches, CoverIndexOncePerEpoch) {
  const auto index = torch::arange(5, 305, 3, torch::kInt64);  // 100 entries, not 0..n-1
  const auto batches = shuffled_batches(index, 32, 1, 0);
  ASSERT_EQ(batches.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(batches[i].numel(), 32);
  EXPECT_EQ(batches[3].numel(), 4);  // the partial batch is kept
  EXPECT_TRUE(torch::equal(sorted_cat(batches), index));
  EXPECT_FALSE(torch::equal(torch::cat(batches), index));  // shuffled
}

TEST(ImageDataBatches, DeterministicPerSeedAndEpoch) {
  const auto index = torch::arange(50, torch::kInt64);
  const auto order = [&](uint64_t seed, int64_t epoch) {
    return torch::cat(shuffled_batches(index, 8, seed, epoch));
  };
  EXPECT_TRUE(torch::equal(order(3, 2), order(3, 2)));
  EXPECT_FALSE(torch::equal(order(3, 2), order(3, 3)));
  EXPECT_FALSE(torch::equal(order(3, 0), order(3, 1)));
  EXPECT_FALSE(torch::equal(order(3, 2), order(4, 2)));
  EXPECT_TRUE(torch::equal(sorted_cat({order(3, 3)}), index));
}

TEST(ImageDataBatches, EdgeCasesAndErrors) {
  EXPECT_TRUE(shuffled_batches(torch::empty({0}, torch::kInt64), 4, 0, 0).empty());
  EXPECT_EQ(shuffled_batches(torch::arange(3, torch::kInt64), 10, 0, 0).size(), 1u);
  const auto index = torch::arange(10, torch::kInt64);
  EXPECT_PRED2(contains, error_message([&] { shuffled_batches(index, 0, 0, 0); }),
               "batch size must be positive, got 0");
  EXPECT_PRED2(contains, error_message([&] { shuffled_batches(index, 4, 0, -1); }),
               "epoch must be >= 0");
  EXPECT_PRED2(contains,
               error_message([&] { shuffled_batches(index.to(torch::kFloat32), 4, 0, 0); }),
               "1-D int64");
}

}  // namespace
}  // namespace layerwise::data
