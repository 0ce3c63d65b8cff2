#include "layerwise/data/task_data.h"

#include "layerwise/core/error.h"
#include "layerwise/data/image_dataset.h"

namespace layerwise::data {

void validate(const DataConfig& c) {
  check_fields(c, "data");
  LW_CHECK((c.mean == 0 && c.std == 0) || c.std > 0,
           "data.std must be > 0 when data.mean is set, got ", c.std);
}

nlohmann::json to_json(const DataConfig& c) {
  return fields_to_json(c);
}

DataConfig data_config_from_json(const nlohmann::json& j) {
  DataConfig c;
  fields_from_json(c, j, "data");
  return c;
}

namespace {

// The samples of `classes` only, labels renumbered by their position in the list.
ImageDataset keep_classes(ImageDataset d, const std::vector<int64_t>& classes) {
  if (classes.empty()) return d;
  LW_CHECK(classes.size() >= 2, "data.classes must list at least 2 labels");
  auto relabel = torch::full({d.n_classes}, -1, torch::kInt64);  // old label -> new, -1: dropped
  std::vector<std::string> names;
  for (size_t i = 0; i < classes.size(); ++i) {
    const int64_t label = classes[i];
    LW_CHECK(label >= 0 && label < d.n_classes, "data.classes: label ", label,
             " is not in the dataset's 0..", d.n_classes - 1);
    LW_CHECK(relabel[label].item<int64_t>() < 0, "data.classes: label ", label, " is listed twice");
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
  if (c.dataset == Dataset::fashion_mnist)
    return keep_classes(load_fashion_mnist(c.dir, file_split), c.classes);
  LW_CHECK(c.dataset == Dataset::idx, "data.dataset '", c.dataset, "' is not an image dataset");
  LW_CHECK(!c.dir.empty(), "dataset idx needs data.dir: a folder with train-images-idx3-ubyte, ",
           "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (or .gz)");
  return keep_classes(load_idx_folder(c.dir, file_split), c.classes);
}

Examples take(const ImageDataset& d, const torch::Tensor& index, const DataConfig& c) {
  return {normalize_images(d.images.index_select(0, index), c.mean, c.std),
          d.labels.index_select(0, index)};
}

}  // namespace

TaskData load_task(DataConfig& c, const std::string& run_dir) {
  if (c.is_text()) return load_text_task(c, run_dir);
  validate(c);
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
  validate(c);
  LW_CHECK(c.std > 0, "data.std must be > 0 (it is measured when training starts)");
  LW_CHECK(max_samples >= 0, "the sample limit must be >= 0, got ", max_samples);
  LW_CHECK(split == "test" || split == "train" || split == "val", "split '", split,
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
