#include "layerwise/data/task_data.h"

#include <set>
#include <sstream>

#include "layerwise/core/error.h"
#include "layerwise/data/image_dataset.h"

namespace layerwise::data {

std::vector<int64_t> parse_class_list(const std::string& list) {
  std::vector<int64_t> labels;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    const auto dash = item.find('-', 1);
    try {
      size_t used_first = 0, used_last = 0;
      const int64_t first = std::stoll(item.substr(0, dash), &used_first);
      const int64_t last =
          dash == std::string::npos ? first : std::stoll(item.substr(dash + 1), &used_last);
      LW_CHECK(used_first == (dash == std::string::npos ? item.size() : dash) &&
                   (dash == std::string::npos || used_last == item.size() - dash - 1) &&
                   first >= 0 && first <= last,
               "");
      for (int64_t label = first; label <= last; ++label) labels.push_back(label);
    } catch (const std::exception&) {
      throw Error(str_cat("--classes: '", item, "' is not a label or a range like 0-4"));
    }
  }
  LW_CHECK(!labels.empty(), "--classes: no labels in '", list, "'");
  return labels;
}

nlohmann::json to_json(const DataConfig& c) {
  nlohmann::json j = {{"dataset", c.dataset},
                      {"dir", c.dir},
                      {"val_fraction", c.val_fraction},
                      {"split_seed", c.split_seed},
                      {"train_limit", c.train_limit},
                      {"val_limit", c.val_limit},
                      {"mean", c.mean},
                      {"std", c.std}};
  if (!c.classes.empty()) j["classes"] = c.classes;
  if (c.is_text())
    j.update({{"test_fraction", c.test_fraction},
              {"task", c.task},
              {"labels", c.labels},
              {"strip_headers", c.strip_headers},
              {"tokenizer", c.tokenizer},
              {"vocab_size", c.vocab_size},
              {"max_len", c.max_len}});
  return j;
}

DataConfig data_config_from_json(const nlohmann::json& j) {
  LW_CHECK(j.is_object(), "data config must be a JSON object");
  const std::set<std::string> known = {"dataset",     "dir",       "val_fraction",  "split_seed",
                                       "train_limit", "val_limit", "mean",          "std",
                                       "task",        "labels",    "strip_headers", "tokenizer",
                                       "vocab_size",  "max_len",   "test_fraction", "classes"};
  for (const auto& item : j.items())
    LW_CHECK(known.count(item.key()), "data config: unknown field '", item.key(), "'");
  DataConfig c;
  try {
    c.dataset = j.value("dataset", c.dataset);
    c.dir = j.value("dir", c.dir);
    c.val_fraction = j.value("val_fraction", c.val_fraction);
    c.split_seed = j.value("split_seed", c.split_seed);
    c.train_limit = j.value("train_limit", c.train_limit);
    c.val_limit = j.value("val_limit", c.val_limit);
    c.mean = j.value("mean", c.mean);
    c.std = j.value("std", c.std);
    c.test_fraction = j.value("test_fraction", c.test_fraction);
    c.task = j.value("task", c.task);
    c.labels = j.value("labels", c.labels);
    c.strip_headers = j.value("strip_headers", c.strip_headers);
    c.tokenizer = j.value("tokenizer", c.tokenizer);
    c.vocab_size = j.value("vocab_size", c.vocab_size);
    c.max_len = j.value("max_len", c.max_len);
    c.classes = j.value("classes", c.classes);
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat("data config: ", e.what()));
  }
  return c;
}

namespace {

// The samples of `classes` only, labels renumbered by their position in the list.
ImageDataset keep_classes(ImageDataset d, const std::vector<int64_t>& classes) {
  if (classes.empty()) return d;
  LW_CHECK(classes.size() >= 2, "--classes must list at least 2 labels");
  auto relabel = torch::full({d.n_classes}, -1, torch::kInt64);  // old label -> new, -1: dropped
  std::vector<std::string> names;
  for (size_t i = 0; i < classes.size(); ++i) {
    const int64_t label = classes[i];
    LW_CHECK(label >= 0 && label < d.n_classes, "--classes: label ", label,
             " is not in the dataset's 0..", d.n_classes - 1);
    LW_CHECK(relabel[label].item<int64_t>() < 0, "--classes: label ", label, " is listed twice");
    relabel[label] = int64_t(i);
    names.push_back(d.class_names[label]);
  }
  const auto new_labels = relabel.index_select(0, d.labels);  // (N)
  const auto keep = new_labels.ge(0).nonzero().squeeze(1);
  d.images = d.images.index_select(0, keep);
  d.labels = new_labels.index_select(0, keep);
  d.n_classes = int64_t(classes.size());
  d.class_names = names;
  return d;
}

ImageDataset read_file_split(const DataConfig& c, const std::string& file_split) {
  if (c.dataset == "fashion-mnist")
    return keep_classes(load_fashion_mnist(c.dir, file_split), c.classes);
  LW_CHECK(c.dataset == "idx", "dataset '", c.dataset,
           "' is not known; use fashion-mnist, idx, spam-assassin, jsonl or text");
  LW_CHECK(!c.dir.empty(), "dataset idx needs --data-dir: a folder with train-images-idx3-ubyte, ",
           "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (or .gz)");
  return keep_classes(load_idx_folder(c.dir, file_split), c.classes);
}

void check_split_config(const DataConfig& c) {
  LW_CHECK(c.val_fraction >= 0 && c.val_fraction < 1, "--val-fraction must be in [0, 1), got ",
           c.val_fraction);
  LW_CHECK(c.train_limit >= 0, "--train-limit must be >= 0, got ", c.train_limit);
  LW_CHECK(c.val_limit >= 0, "--val-limit must be >= 0, got ", c.val_limit);
}

Examples take(const ImageDataset& d, const torch::Tensor& index, const DataConfig& c) {
  return {normalize_images(d.images.index_select(0, index), c.mean, c.std),
          d.labels.index_select(0, index)};
}

}  // namespace

TaskData load_task(DataConfig& c, const std::string& run_dir) {
  if (c.is_text()) return load_text_task(c, run_dir);
  check_split_config(c);
  const auto file = read_file_split(c, "train");
  const auto split = split_train_val(file.size(), c.val_fraction, c.split_seed);
  auto train_index = split.train_index;
  if (c.train_limit > 0 && c.train_limit < train_index.numel())
    train_index = train_index.slice(0, 0, c.train_limit);
  if (c.mean == 0 && c.std == 0) {
    const auto pixels = file.images.index_select(0, train_index);
    c.mean = pixels.mean().item<double>();
    c.std = pixels.std().item<double>();
  }
  TaskData task;
  task.train = take(file, train_index, c);
  auto val_index = split.val_index;
  if (c.val_limit > 0 && c.val_limit < val_index.numel())
    val_index = val_index.slice(0, 0, c.val_limit);
  task.val = take(file, val_index, c);
  task.n_classes = file.n_classes;
  task.class_names = file.class_names;
  const auto shape = file.images.sizes();
  task.input_shape = {shape[1], shape[2], shape[3]};
  return task;
}

Examples load_split(const DataConfig& c, const std::string& split, int64_t max_samples,
                    const std::string& run_dir) {
  if (c.is_text()) return load_text_split(c, split, max_samples, run_dir);
  check_split_config(c);
  LW_CHECK(c.std > 0, "data config: std must be > 0 (it is measured when training starts)");
  LW_CHECK(max_samples >= 0, "--samples must be >= 0, got ", max_samples);
  LW_CHECK(split == "test" || split == "train" || split == "val", "--split '", split,
           "' is not known; use test, val or train");
  const auto file = read_file_split(c, split == "test" ? "test" : "train");
  torch::Tensor index;
  if (split == "test") {
    index = torch::arange(file.size(), torch::kInt64);
  } else {
    const auto parts = split_train_val(file.size(), c.val_fraction, c.split_seed);
    index = split == "val" ? parts.val_index : parts.train_index;
    const int64_t limit = split == "train" ? c.train_limit : c.val_limit;
    if (limit > 0 && limit < index.numel()) index = index.slice(0, 0, limit);
  }
  if (max_samples > 0 && max_samples < index.numel()) index = index.slice(0, 0, max_samples);
  return take(file, index, c);
}

}  // namespace layerwise::data
