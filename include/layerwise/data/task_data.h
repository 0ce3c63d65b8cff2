// The data of a run: which dataset, its train / validation / test tensors, with the split,
// normalization and tokenizer recorded so that evaluation rebuilds them exactly.
//
// Images (fashion-mnist, idx): normalized (N, 1, H, W) float32, labels (N). Image folders, and any
// image dataset with a resize, crop, channel count or per-channel normalization: the images kept
// at their stored size and made model-ready per batch (data/inputs.h, data/image_pipeline.h).
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

#include "layerwise/core/config_fields.h"
#include "layerwise/data/image_resize.h"
#include "layerwise/data/inputs.h"
#include "layerwise/data/text_corpus.h"

namespace layerwise::data {

enum class Dataset { fashion_mnist, idx, folder, spam_assassin, jsonl, text };
/// classify: one label per sequence; lm: next-token prediction (text_decoder models).
enum class Task { classify, lm };
/// bpe (trained on the training split), byte; wordpiece and gpt2: a Hugging Face model's files.
enum class TokenizerKind { bpe, byte, wordpiece, gpt2 };

struct DataConfig {
  Dataset dataset = Dataset::fashion_mnist;
  std::string dir;            // idx: folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz];
                              // folder: DIR/{train,val,test}/<class>/ or DIR/<class>/ of PNG and
                              // JPEG files; fashion-mnist: empty = Debian's; spam-assassin: empty
                              // = the set-up script's cache; jsonl, text: the file
  double val_fraction = 0.1;  // share of the training data held out for validation
  double test_fraction = 0.2;    // text corpora and image folders without test files of their own:
                                 // share held out for test
  uint64_t split_seed = 0;       // seed of the splits
  int64_t train_limit = 0;       // > 0: train on the first train_limit training samples only
  int64_t val_limit = 0;         // > 0: validate on the first val_limit validation samples only
  double mean = 0, std = 0;      // pixel normalization; 0, 0: measured on the training split
  std::vector<int64_t> classes;  // images: keep these labels only, renumbered 0.. in this order
                                 // (a task made of some classes, e.g. for transfer); empty: all
  // images, made model-ready per batch when any of these is set (and always for folders)
  std::vector<int64_t> resize;  // {}: stored size; {s}: shorter edge to s; {h, w}: exactly h x w
  std::vector<int64_t> crop;    // {}: none; {s} or {h, w}: center crop after the resize
  ResizeFilter resample = ResizeFilter::bilinear;  // the resize's filter, as Pillow's
  int64_t channels = 0;                            // 0: as stored (folders: 3 if any image is
                                                   // colour); 1: grey (luma); 3: RGB
  std::vector<double> channel_mean, channel_std;   // per-channel normalization of pixels in [0, 1]
                                                   // (a checkpoint's processor); empty: mean, std
  bool skip_bad_images = false;  // folder: leave unreadable files out instead of stopping
  int64_t skipped_images = 0;    // folder: how many training files were left out
  // text
  Task task = Task::classify;
  LabelScheme labels = LabelScheme::binary;  // spam-assassin
  bool strip_headers = true;                 // spam-assassin: keep the message body only
  TokenizerKind tokenizer = TokenizerKind::bpe;
  int64_t vocab_size = 4096;  // bpe: ids including the 260 specials and bytes
  int64_t max_len = 256;      // tokens per sequence (classify: including <cls>)

  bool is_text() const {
    return dataset == Dataset::spam_assassin || dataset == Dataset::jsonl ||
           dataset == Dataset::text;
  }
};

/// The settings of the data, described once (core/config_fields.h). Text settings are written to
/// config.json for text datasets only, the class list when there is one.
template <typename C, typename Field, enable_for<C, DataConfig> = 0>
void visit_fields(C& c, Field&& field) {
  const bool text = c.is_text();
  const bool folder = c.dataset == Dataset::folder;
  field("dataset", c.dataset);
  field("dir", c.dir);
  field("val_fraction", c.val_fraction, in_range(0, 1));
  field("split_seed", c.split_seed);
  field("train_limit", c.train_limit, at_least(0));
  field("val_limit", c.val_limit, at_least(0));
  field("mean", c.mean);
  field("std", c.std, at_least(0));
  field("classes", c.classes, always_written().written_if(!c.classes.empty()));
  field("resize", c.resize, always_written().written_if(!c.resize.empty()));
  field("crop", c.crop, always_written().written_if(!c.crop.empty()));
  field("resample", c.resample, always_written().written_if(!c.resize.empty()));
  field("channels", c.channels, in_range(0, 4).written_if(c.channels != 0));
  field("channel_mean", c.channel_mean, always_written().written_if(!c.channel_mean.empty()));
  field("channel_std", c.channel_std, always_written().written_if(!c.channel_std.empty()));
  field("skip_bad_images", c.skip_bad_images, always_written().written_if(folder));
  field("skipped_images", c.skipped_images, at_least(0).written_if(folder));
  field("test_fraction", c.test_fraction, in_range(0, 1).written_if(text || folder));
  field("task", c.task, always_written().written_if(text));
  field("labels", c.labels, always_written().written_if(text));
  field("strip_headers", c.strip_headers, always_written().written_if(text));
  field("tokenizer", c.tokenizer, always_written().written_if(text));
  field("vocab_size", c.vocab_size, at_least(1).written_if(text));
  field("max_len", c.max_len, at_least(2).written_if(text));
}

/// Throws layerwise::Error naming the setting out of range (data.val_fraction, ...).
void validate(const DataConfig& config);

nlohmann::json to_json(const DataConfig& config);
/// Reads what to_json wrote; missing fields keep their defaults, unknown ones are refused.
DataConfig data_config_from_json(const nlohmann::json& json);

/// Normalized inputs and labels of one split.
struct Examples {
  Inputs inputs;         // (N, C, H, W) float32 images, (N, T) int64 token ids
  torch::Tensor labels;  // (N) int64, or (N, T) next tokens
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
/// Image folders: fills config.channels and config.skipped_images; decoding shows progress on
/// stderr unless quiet.
TaskData load_task(DataConfig& config, const std::string& run_dir = "", bool quiet = true);

/// The task's class names as load_task gives them; an image folder's from its folder names alone
/// (no image is decoded).
std::vector<std::string> task_class_names(const DataConfig& config, const std::string& run_dir);

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

namespace layerwise {
template <>
struct EnumNames<data::Dataset> {
  static constexpr std::pair<data::Dataset, const char*> values[] = {
      {data::Dataset::fashion_mnist, "fashion-mnist"},
      {data::Dataset::idx, "idx"},
      {data::Dataset::folder, "folder"},
      {data::Dataset::spam_assassin, "spam-assassin"},
      {data::Dataset::jsonl, "jsonl"},
      {data::Dataset::text, "text"}};
};
template <>
struct EnumNames<data::Task> {
  static constexpr std::pair<data::Task, const char*> values[] = {
      {data::Task::classify, "classify"}, {data::Task::lm, "lm"}};
};
template <>
struct EnumNames<data::TokenizerKind> {
  static constexpr std::pair<data::TokenizerKind, const char*> values[] = {
      {data::TokenizerKind::bpe, "bpe"},
      {data::TokenizerKind::byte, "byte"},
      {data::TokenizerKind::wordpiece, "wordpiece"},
      {data::TokenizerKind::gpt2, "gpt2"}};
};
}  // namespace layerwise
