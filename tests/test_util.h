// Helpers shared by the test files.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerwise/core/error.h"
#include "layerwise/core/safetensors.h"
#include "layerwise/core/staged_folder.h"

namespace layerwise::testing {

struct CommandResult {
  int code = -1;
  std::string output;  // stdout (and stderr where the command line sends it there)
};

/// Runs a shell command line; returns its exit code and standard output.
inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;)
    result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

/// Runs the layerwise program with `arguments`; stdout and stderr together.
inline CommandResult run_cli(const std::string& arguments) {
  return run_command(std::string(LAYERWISE_BINARY) + " " + arguments + " 2>&1");
}

/// Whether Debian's dataset-fashion-mnist is installed (tests on the real data skip otherwise).
inline bool fashion_mnist_installed() {
  return std::ifstream("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").good();
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

/// Absolute path of a file under tests/fixtures.
inline std::string fixture(const std::string& name) {
  return std::string(LAYERWISE_FIXTURES) + "/" + name;
}

/// Deletes a folder and everything in it (no error if absent): the library's remove_folder.
inline void remove_tree(const std::string& path) {
  layerwise::remove_folder(path);
}

/// A fresh, empty folder under the system's temporary folder.
inline std::string temp_dir(const std::string& name) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("layerwise_test_" + name + "_" + std::to_string(::getpid()));
  remove_tree(path.string());
  std::filesystem::create_directories(path);
  return path.string();
}

/// The message of the layerwise::Error that `body` throws; fails the test if none is thrown.
template <typename Body>
std::string error_message(Body&& body) {
  try {
    body();
  } catch (const layerwise::Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected a layerwise::Error";
  return "";
}

/// Max |a - b| of two tensors as a double.
/// Writes `text` to `path` as it is (bytes), failing the test when it cannot.
inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

/// How many items of each label.
inline std::map<int64_t, int64_t> label_counts(const std::vector<int64_t>& labels) {
  std::map<int64_t, int64_t> counts;
  for (const int64_t label : labels) ++counts[label];
  return counts;
}

inline double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

/// Largest |actual - expected| relative to the largest |expected|.
inline double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  return max_diff(actual, expected) / std::max(1e-30, expected.abs().max().item<double>());
}

/// Whether `part` occurs in `text`.
inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Largest difference between the weights of two run folders (model.safetensors), tensor by
/// tensor of the same name; a failure when they hold different tensors.
inline double max_weight_diff(const std::string& run_a, const std::string& run_b) {
  const auto a = read_safetensors(run_a + "/model.safetensors");
  const auto b = read_safetensors(run_b + "/model.safetensors");
  EXPECT_EQ(a.tensors.size(), b.tensors.size());
  double worst = 0;
  for (const auto& [name, tensor] : a.tensors)
    worst = std::max(worst, max_diff(tensor, b.at(name)));
  return worst;
}

}  // namespace layerwise::testing
