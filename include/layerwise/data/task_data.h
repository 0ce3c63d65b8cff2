// The data of a classification run: which dataset, its train / validation / test tensors,
// normalized, with the split and normalization recorded so that evaluation rebuilds them exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

namespace layerwise::data {

struct DataConfig {
  std::string dataset = "fashion-mnist";  // "fashion-mnist" or "idx" (any MNIST-format folder)
  std::string dir;            // folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz];
                              // empty: Debian's fashion-mnist folder (dataset fashion-mnist only)
  double val_fraction = 0.1;  // share of the training file held out for validation
  uint64_t split_seed = 0;    // seed of the train / validation split
  int64_t train_limit = 0;    // > 0: train on the first train_limit training samples only
  double mean = 0, std = 0;   // pixel normalization; 0, 0: measured on the training split
};

nlohmann::json to_json(const DataConfig& config);
DataConfig data_config_from_json(const nlohmann::json& json);

/// Normalized inputs and labels of one split.
struct Examples {
  torch::Tensor inputs;  // (N, 1, H, W) float32
  torch::Tensor labels;  // (N) int64
};

struct TaskData {
  Examples train, val;
  int64_t n_classes = 0;
  std::vector<std::string> class_names;
  std::vector<int64_t> input_shape;  // one sample, e.g. {1, 28, 28}
};

/// Loads the training file, splits it, and fills config.mean / config.std if they are 0.
TaskData load_task(DataConfig& config);

/// One split ("train", "val" or "test") normalized with the config's mean and std (which must be
/// set), with the same train / validation split as load_task; max_samples > 0 keeps the first
/// max_samples only.
Examples load_split(const DataConfig& config, const std::string& split, int64_t max_samples = 0);

}  // namespace layerwise::data
