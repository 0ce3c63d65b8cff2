// The data of a run: which dataset, its train / validation / test tensors, with the split,
// normalization and tokenizer recorded so that evaluation rebuilds them exactly.
//
// Images (fashion-mnist, idx): normalized (N, 1, H, W) float32, labels (N).
// Text (spam-assassin, jsonl, text): token ids (N, T) int64 from the run's tokenizer (trained on
// the training split and saved as RUN/tokenizer.json); for task "classify" a <cls> token first,
// padding after, labels (N); for task "lm" every document as <bos> text <eos>, concatenated and
// cut into windows of max_len + 1 tokens: inputs the first max_len, labels (N, T) the next token.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

namespace layerwise::data {

struct DataConfig {
  std::string dataset = "fashion-mnist";  // fashion-mnist | idx | spam-assassin | jsonl | text
  std::string dir;            // idx: folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz];
                              // fashion-mnist: empty = Debian's; spam-assassin: empty = the
                              // set-up script's cache; jsonl, text: the file
  double val_fraction = 0.1;  // share of the training data held out for validation
  double test_fraction = 0.2;  // text corpora (no test file of their own): share held out for test
  uint64_t split_seed = 0;     // seed of the splits
  int64_t train_limit = 0;     // > 0: train on the first train_limit training samples only
  int64_t val_limit = 0;       // > 0: validate on the first val_limit validation samples only
  double mean = 0, std = 0;    // pixel normalization; 0, 0: measured on the training split
  std::vector<int64_t> classes;  // images: keep these labels only, renumbered 0.. in this order
                                 // (a task made of some classes, e.g. for transfer); empty: all
  // text
  std::string task = "classify";  // classify | lm (next-token prediction; text_decoder models)
  std::string labels = "binary";  // spam-assassin: binary (ham / spam) | groups (easy ham,
                                  // hard ham, spam)
  bool strip_headers = true;      // spam-assassin: keep the message body only
  std::string tokenizer = "bpe";  // bpe (trained on the training split) | byte
  int64_t vocab_size = 4096;      // bpe: ids including the 260 specials and bytes
  int64_t max_len = 256;          // tokens per sequence (classify: including <cls>)

  bool is_text() const {
    return dataset == "spam-assassin" || dataset == "jsonl" || dataset == "text";
  }
};

/// "0,1,2,3,4" or "0-4" (or a mix, "0-2,7") as labels for DataConfig::classes; throws
/// layerwise::Error quoting the part that is not a label or range.
std::vector<int64_t> parse_class_list(const std::string& list);

nlohmann::json to_json(const DataConfig& config);
DataConfig data_config_from_json(const nlohmann::json& json);

/// Normalized inputs and labels of one split.
struct Examples {
  torch::Tensor inputs;  // (N, 1, H, W) float32
  torch::Tensor labels;  // (N) int64
};

struct TaskData {
  Examples train, val;
  int64_t n_classes = 0;   // lm: the vocabulary size
  int64_t vocab_size = 0;  // text: the tokenizer's; images: 0
  std::vector<std::string> class_names;
  std::vector<int64_t> input_shape;  // one sample, e.g. {1, 28, 28}
};

/// Loads the training data, splits it, and fills config.mean / config.std if they are 0. Text:
/// loads RUN/tokenizer.json from run_dir if it is there, else trains the tokenizer and writes it.
TaskData load_task(DataConfig& config, const std::string& run_dir = "");

/// One split ("train", "val" or "test") as load_task made it (images normalized with the config's
/// mean and std, which must be set; text with run_dir's tokenizer); max_samples > 0 keeps the
/// first max_samples only.
Examples load_split(const DataConfig& config, const std::string& split, int64_t max_samples = 0,
                    const std::string& run_dir = "");

/// Text datasets (task_data.cpp dispatches to these; text_task.cpp).
TaskData load_text_task(const DataConfig& config, const std::string& run_dir);
Examples load_text_split(const DataConfig& config, const std::string& split, int64_t max_samples,
                         const std::string& run_dir);

}  // namespace layerwise::data
