#include "layerwise/core/safetensors.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "test_util.h"

namespace layerwise {
namespace {

namespace fs = std::filesystem;
using Named = std::vector<std::pair<std::string, torch::Tensor>>;

std::string le_u64(std::uint64_t value) {
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  return bytes;
}

std::string f32_bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

/// A file made by hand per the spec: length, header text as given, data bytes.
std::string raw_file(const std::string& header, const std::string& data) {
  return le_u64(header.size()) + header + data;
}

class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           str_cat("layerwise_st_", ::getpid(), "_", counter++, "_", info->name());
    layerwise::testing::remove_tree(dir_.string());
    fs::create_directories(dir_);
  }
  void TearDown() override { layerwise::testing::remove_tree(dir_.string()); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  /// Writes `bytes` to a fresh file and expects reading it to throw layerwise::Error whose message
  /// names the file and contains every one of `parts`.
  void expect_read_error(const std::string& name, const std::string& bytes,
                         const std::vector<std::string>& parts) {
    const std::string file = path(name);
    write_bytes(file, bytes);
    expect_read_error_at(file, parts);
  }

  static void expect_read_error_at(const std::string& file, const std::vector<std::string>& parts) {
    try {
      read_safetensors(file);
      ADD_FAILURE() << "reading " << file << " did not throw";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(file), std::string::npos) << message;
      for (const std::string& part : parts)
        EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
  }

  fs::path dir_;
};

std::vector<std::string> names_of(const SafetensorsFile& file) {
  std::vector<std::string> names;
  for (const auto& named : file.tensors) names.push_back(named.first);
  return names;
}

// --- Round trips --------------------------------------------------------------------------------

TEST_F(Safetensors, RoundTripsEveryDtypeZeroSizeAndScalar) {
  const Named tensors = {
      {"f64", torch::tensor({1.0, -2.5, 1e300, 5e-324}, torch::kFloat64)},
      {"f32", torch::tensor({0.5f, -3.25f, 1e30f, -0.0f, 7.0f, 8.0f}).reshape({2, 3})},
      // Exactly representable half / bfloat16 values, including the largest finite half.
      {"f16", torch::tensor({1.5, -2.25, 65504.0, 0.0009765625}).to(torch::kFloat16)},
      {"bf16", torch::tensor({1.5, -2.25, 3.0e38, 0.0078125}).to(torch::kBFloat16)},
      {"i64", torch::tensor({INT64_MIN, int64_t{-1}, int64_t{0}, INT64_MAX}, torch::kInt64)},
      {"i32", torch::tensor({INT32_MIN, -7, INT32_MAX}, torch::kInt32)},
      {"i16", torch::tensor({-32768, 5, 32767}).to(torch::kInt16)},
      {"i8", torch::tensor({-128, 0, 127}).to(torch::kInt8)},
      {"u8", torch::tensor({0, 200, 255}).to(torch::kUInt8)},
      {"bool", torch::tensor({true, false, true})},
      {"empty", torch::zeros({0, 3})},
      {"scalar", torch::tensor(42.0f)},
      {"transposed", torch::arange(6, torch::kInt32).reshape({2, 3}).t()},
  };
  const std::string file = path("all.safetensors");
  write_safetensors(file, tensors);
  const SafetensorsFile loaded = read_safetensors(file);

  ASSERT_EQ(loaded.tensors.size(), tensors.size());
  EXPECT_TRUE(loaded.metadata.empty());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, expected] = tensors[i];
    const torch::Tensor& actual = loaded.tensors[i].second;
    EXPECT_EQ(loaded.tensors[i].first, name);
    EXPECT_EQ(actual.scalar_type(), expected.scalar_type()) << name;
    EXPECT_EQ(actual.sizes(), expected.sizes()) << name;
    EXPECT_TRUE(actual.is_contiguous()) << name;
    EXPECT_TRUE(torch::equal(actual, expected)) << name;
  }
  EXPECT_EQ(loaded.at("scalar").dim(), 0);
  EXPECT_EQ(loaded.at("empty").numel(), 0);
  EXPECT_EQ(loaded.at("bf16")[2].item<float>(),
            torch::tensor(3.0e38).to(torch::kBFloat16).item<float>());
  EXPECT_EQ(loaded.at("f16")[2].item<float>(), 65504.0f);
  EXPECT_EQ(loaded.at("transposed")[2][1].item<int>(), 5);
}

TEST_F(Safetensors, RoundTripsMetadataAndOrder) {
  const Named tensors = {{"zeta", torch::ones({2})},
                         {"alpha", torch::zeros({3}, torch::kInt64)},
                         {"nothing", torch::zeros({0})},
                         {"mid", torch::full({1}, 2.0)}};
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"note", "quote \" and unicode \u00e9"}, {"empty", ""}};
  const std::string file = path("meta.safetensors");
  write_safetensors(file, tensors, metadata);
  const SafetensorsFile loaded = read_safetensors(file);
  EXPECT_EQ(loaded.metadata, metadata);
  EXPECT_EQ(names_of(loaded), (std::vector<std::string>{"zeta", "alpha", "nothing", "mid"}));
}

TEST_F(Safetensors, EmptyFileOfNoTensorsRoundTrips) {
  const std::string file = path("none.safetensors");
  write_safetensors(file, {});
  const SafetensorsFile loaded = read_safetensors(file);
  EXPECT_TRUE(loaded.tensors.empty());
  EXPECT_EQ(fs::file_size(file), 16u);  // 8 + "{}" padded to 8
}

TEST_F(Safetensors, AtListsAvailableNames) {
  const std::string file = path("at.safetensors");
  write_safetensors(file, {{"weight", torch::ones({1})}, {"bias", torch::zeros({1})}});
  const SafetensorsFile loaded = read_safetensors(file);
  EXPECT_EQ(loaded.at("bias").item<float>(), 0.0f);
  EXPECT_THROW(loaded.at("missing"), Error);
  try {
    loaded.at("missing");
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("missing"), std::string::npos) << message;
    EXPECT_NE(message.find("weight"), std::string::npos) << message;
    EXPECT_NE(message.find("bias"), std::string::npos) << message;
  }
}

// --- Golden bytes: files made by hand per the spec ----------------------------------------------

TEST_F(Safetensors, ReadsHandBuiltGoldenFile) {
  // Little-endian IEEE 754: 1.0f = 3F800000, -2.0f = C0000000. Header padded with spaces.
  const std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  )";
  const std::string bytes = std::string("\x38\x00\x00\x00\x00\x00\x00\x00", 8) + header +
                            std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);
  ASSERT_EQ(header.size(), 0x38u);  // 8 + 56: data 8-byte aligned
  const std::string file = path("golden.safetensors");
  write_bytes(file, bytes);
  const SafetensorsFile loaded = read_safetensors(file);
  ASSERT_EQ(loaded.tensors.size(), 1u);
  const torch::Tensor& x = loaded.at("x");
  EXPECT_EQ(x.scalar_type(), torch::kFloat32);
  EXPECT_EQ(x.sizes(), torch::IntArrayRef({2}));
  EXPECT_EQ(x[0].item<float>(), 1.0f);
  EXPECT_EQ(x[1].item<float>(), -2.0f);
}

TEST_F(Safetensors, WriterOutputMatchesTheSpecByteForByte) {
  const std::string file = path("written.safetensors");
  write_safetensors(file, {{"x", torch::tensor({1.0f, -2.0f})}});
  const std::string bytes = read_file(file);
  ASSERT_GE(bytes.size(), 8u);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  ASSERT_EQ(bytes.size(), 8 + n + 8);
  EXPECT_EQ((8 + n) % 8, 0u);

  const std::string header = bytes.substr(8, n);
  const auto json = nlohmann::json::parse(header);  // trailing spaces are JSON whitespace
  const auto expected =
      nlohmann::json::parse(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})");
  EXPECT_EQ(json, expected) << header;
  const std::size_t last = header.find_last_not_of(' ');
  EXPECT_EQ(header[last], '}');
  EXPECT_EQ(header.find_first_not_of(' ', last + 1), std::string::npos);
  EXPECT_EQ(bytes.substr(8 + n), std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8));
}

TEST_F(Safetensors, ReturnsTensorsOrderedByOffsetAndAcceptsZeroSize) {
  // Header order differs from data order; zero-size tensors sit between real ones.
  const std::string header = R"({"b":{"dtype":"I32","shape":[1],"data_offsets":[4,8]},)"
                             R"("z":{"dtype":"F32","shape":[0,5],"data_offsets":[4,4]},)"
                             R"("a":{"dtype":"I32","shape":[],"data_offsets":[0,4]},)"
                             R"("__metadata__":{"k":"v"}})";
  const std::string data = std::string("\x07\x00\x00\x00\x09\x00\x00\x00", 8);
  const std::string file = path("ordered.safetensors");
  write_bytes(file, raw_file(header, data));
  const SafetensorsFile loaded = read_safetensors(file);
  EXPECT_EQ(names_of(loaded), (std::vector<std::string>{"a", "z", "b"}));
  EXPECT_EQ(loaded.at("a").item<int>(), 7);
  EXPECT_EQ(loaded.at("a").dim(), 0);
  EXPECT_EQ(loaded.at("b")[0].item<int>(), 9);
  EXPECT_EQ(loaded.at("z").sizes(), torch::IntArrayRef({0, 5}));
  EXPECT_EQ(loaded.metadata.at("k"), "v");
}

// --- Strict reading -----------------------------------------------------------------------------

TEST_F(Safetensors, RejectsShortFilesAndBadHeaderLengths) {
  expect_read_error("empty.st", "", {"too short"});
  expect_read_error("three.st", "abc", {"too short"});
  // A corrupt length must be rejected before anything is allocated.
  expect_read_error("huge.st", le_u64(std::uint64_t{1} << 60) + "{}", {"header length"});
  expect_read_error("max.st", le_u64(UINT64_MAX) + "{}", {"header length"});
  expect_read_error("plus1.st", le_u64(3) + "{}", {"header length"});
  expect_read_error_at(path("does_not_exist.st"), {"cannot read"});
}

TEST_F(Safetensors, RejectsMalformedHeaders) {
  expect_read_error("json.st", raw_file(R"({"x": {)", ""), {"not valid JSON"});
  expect_read_error("nul.st", raw_file(std::string("{}\0", 3), ""), {"not valid JSON"});
  expect_read_error("array.st", raw_file("[1, 2]", ""), {"JSON object"});
  expect_read_error("entry.st", raw_file(R"({"x": 5})", ""), {"'x'", "expected an object"});
  expect_read_error("nodtype.st", raw_file(R"({"x":{"shape":[],"data_offsets":[0,0]}})", ""),
                    {"'x'", "dtype"});
  expect_read_error("noshape.st", raw_file(R"({"x":{"dtype":"F32","data_offsets":[0,0]}})", ""),
                    {"'x'", "shape"});
  expect_read_error("nooffsets.st", raw_file(R"({"x":{"dtype":"F32","shape":[0]}})", ""),
                    {"'x'", "data_offsets"});
  expect_read_error("dtype.st",
                    raw_file(R"({"x":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", "a"),
                    {"'x'", "unknown dtype", "F8_E4M3"});
  expect_read_error("dtypeint.st",
                    raw_file(R"({"x":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", "abcd"),
                    {"'x'", "dtype"});
  expect_read_error("negative.st",
                    raw_file(R"({"x":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})", "a"),
                    {"'x'", "non-negative"});
  expect_read_error("fraction.st",
                    raw_file(R"({"x":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})", "a"),
                    {"'x'", "non-negative integers"});
  expect_read_error("shapestr.st",
                    raw_file(R"({"x":{"dtype":"U8","shape":"1","data_offsets":[0,1]}})", "a"),
                    {"'x'", "shape"});
  expect_read_error("offsets3.st",
                    raw_file(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}})", "a"),
                    {"'x'", "data_offsets"});
  expect_read_error("offsetsneg.st",
                    raw_file(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}})", "a"),
                    {"'x'", "data_offsets"});
  expect_read_error("duplicate.st",
                    raw_file(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                             R"("x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
                             "a"),
                    {"'x'", "twice"});
}

TEST_F(Safetensors, RejectsSizeMismatchesAndOverflow) {
  expect_read_error(
      "count.st",
      raw_file(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f32_bytes({1, 2})),
      {"'x'", "needs 12 bytes", "span 8"});
  // 2^62 elements of 4 bytes: the byte count overflows 64 bits.
  expect_read_error(
      "overflow.st",
      raw_file(R"({"x":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]}})",
               f32_bytes({1, 2})),
      {"'x'", "too many elements"});
  expect_read_error(
      "overflow3.st",
      raw_file(
          R"({"x":{"dtype":"U8","shape":[1099511627776,1099511627776,1099511627776],"data_offsets":[0,8]}})",
          f32_bytes({1, 2})),
      {"'x'", "too many elements"});
  expect_read_error(
      "reversed.st",
      raw_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", f32_bytes({1, 2})),
      {"'x'", "begin > end"});
}

TEST_F(Safetensors, RejectsRangesThatDoNotTileTheBuffer) {
  expect_read_error(
      "past.st",
      raw_file(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", f32_bytes({1, 2})),
      {"'x'", "past the end"});
  expect_read_error("overlap.st",
                    raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                             f32_bytes({1, 2, 3})),
                    {"'b'", "overlap", "'a'"});
  expect_read_error("gap.st",
                    raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                             f32_bytes({1, 2, 3})),
                    {"'b'", "gap of 4"});
  expect_read_error(
      "leading.st",
      raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f32_bytes({1, 2})),
      {"'a'", "gap"});
  expect_read_error(
      "tail.st",
      raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", f32_bytes({1, 2, 3})),
      {"4 bytes at the end", "belong to no tensor"});
  expect_read_error("nodata.st", raw_file("{}", "xx"), {"belong to no tensor"});
}

TEST_F(Safetensors, RejectsBadMetadataAndBoolBytes) {
  expect_read_error("metaint.st", raw_file(R"({"__metadata__":{"a":"b","n":1}})", ""),
                    {"metadata", "\"n\"", "string"});
  expect_read_error("metaarray.st", raw_file(R"({"__metadata__":["a"]})", ""), {"__metadata__"});
  expect_read_error("bool.st",
                    raw_file(R"({"flags":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})",
                             std::string("\x01\x07", 2)),
                    {"'flags'", "BOOL"});
}

TEST_F(Safetensors, RejectsFileTruncatedInTheDataSection) {
  const std::string file = path("truncated.safetensors");
  write_safetensors(file, {{"a", torch::ones({4})}, {"b", torch::ones({4})}});
  ASSERT_NO_THROW(read_safetensors(file));
  fs::resize_file(file, fs::file_size(file) - 3);
  EXPECT_THROW(read_safetensors(file), Error);
  expect_read_error_at(file, {"'b'", "truncated"});
}

// --- Writing errors -----------------------------------------------------------------------------

TEST_F(Safetensors, WriteRejectsBadNamesAndDtypesAndLeavesNoFile) {
  const std::string file = path("bad.safetensors");
  const torch::Tensor t = torch::ones({2});
  EXPECT_THROW(write_safetensors(file, {{"a", t}, {"a", t}}), Error);
  EXPECT_THROW(write_safetensors(file, {{"", t}}), Error);
  EXPECT_THROW(write_safetensors(file, {{"__metadata__", t}}), Error);
  EXPECT_THROW(write_safetensors(file, {{"c", torch::ones({2}, torch::kComplexFloat)}}), Error);
  EXPECT_THROW(write_safetensors(file, {{"u", torch::Tensor()}}), Error);
  try {
    write_safetensors(file, {{"a", t}, {"c", torch::ones({2}, torch::kComplexFloat)}});
    ADD_FAILURE() << "complex tensor was written";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(file), std::string::npos) << message;
    EXPECT_NE(message.find("'c'"), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(file));
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(Safetensors, FailedWriteInMissingFolderThrowsAndLeavesNoFile) {
  const std::string file = path("missing_folder/out.safetensors");
  EXPECT_THROW(write_safetensors(file, {{"a", torch::ones({2})}}), Error);
  EXPECT_FALSE(fs::exists(path("missing_folder")));
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(Safetensors, OverwritingKeepsOnlyTheNewContents) {
  const std::string file = path("twice.safetensors");
  write_safetensors(file, {{"old", torch::ones({100})}});
  write_safetensors(file, {{"new", torch::zeros({1})}});
  EXPECT_EQ(names_of(read_safetensors(file)), std::vector<std::string>{"new"});
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

// --- Independent reader: the Python fixture -----------------------------------------------------

TEST_F(Safetensors, PythonReaderAgreesWithWriter) {
  // The python3 on PATH may be a pyenv or venv one without numpy; Debian's python3-numpy is for
  // /usr/bin/python3.
  std::string python;
  for (const char* candidate : {"python3", "/usr/bin/python3"}) {
    if (std::system(str_cat(candidate, " -c 'import numpy' > /dev/null 2>&1").c_str()) == 0) {
      python = candidate;
      break;
    }
  }
  if (python.empty()) GTEST_SKIP() << "no python3 with numpy (python3, /usr/bin/python3)";
  const Named tensors = {
      {"w", torch::linspace(-1.0, 2.0, 12).reshape({3, 4})},
      {"d", torch::tensor({1e-3, 2.5, -7.0}, torch::kFloat64)},
      {"h", torch::tensor({0.5, -1.25, 3.0}).to(torch::kFloat16)},
      {"b", torch::tensor({0.5, -1.25, 300.0, 7.0}).to(torch::kBFloat16)},
      {"l", torch::tensor({int64_t{-5}, int64_t{1} << 40}, torch::kInt64)},
      {"i", torch::arange(-3, 3, torch::kInt32)},
      {"s", torch::tensor({-300, 300}).to(torch::kInt16)},
      {"c", torch::tensor({-100, 27}).to(torch::kInt8)},
      {"u", torch::tensor({250, 3}).to(torch::kUInt8)},
      {"m", torch::tensor({true, false, true, true})},
      {"e", torch::zeros({2, 0})},
      {"z", torch::tensor(3.5f)},
  };
  const std::string file = path("cross.safetensors");
  const std::string listing = path("cross.txt");
  write_safetensors(file, tensors, {{"format", "pt"}});
  const std::string command = str_cat(python, " '", LAYERWISE_FIXTURES, "/read_safetensors.py' '",
                                      file, "' > '", listing, "'");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  std::ifstream in(listing);
  const char* dtype_names[] = {"F32", "F64", "F16", "BF16", "I64", "I32",
                               "I16", "I8",  "U8",  "BOOL", "F32", "F32"};
  std::string line;
  std::size_t index = 0;
  while (std::getline(in, line)) {
    ASSERT_LT(index, tensors.size()) << line;
    const auto& [name, tensor] = tensors[index];
    std::istringstream fields(line);
    std::string py_name, py_dtype, py_shape, sum_text, weighted_text;
    std::getline(fields, py_name, '\t');
    std::getline(fields, py_dtype, '\t');
    std::getline(fields, py_shape, '\t');
    std::getline(fields, sum_text, '\t');
    std::getline(fields, weighted_text, '\t');
    EXPECT_EQ(py_name, name);
    EXPECT_EQ(py_dtype, dtype_names[index]) << name;
    std::string shape;
    for (int64_t d : tensor.sizes()) shape += str_cat(shape.empty() ? "" : ",", d);
    EXPECT_EQ(py_shape, shape) << name;

    const torch::Tensor flat = tensor.reshape({-1}).to(torch::kFloat64);
    const double sum = flat.sum().item<double>();
    const double weighted =
        (flat * torch::arange(1, flat.numel() + 1, torch::kFloat64)).sum().item<double>();
    EXPECT_NEAR(std::stod(sum_text), sum, 1e-9 * (1 + std::abs(sum))) << name;
    EXPECT_NEAR(std::stod(weighted_text), weighted, 1e-9 * (1 + std::abs(weighted))) << name;
    ++index;
  }
  EXPECT_EQ(index, tensors.size());
}

}  // namespace
}  // namespace layerwise
