#include "layerwise/data/task_data.h"

#include <iostream>

#include "layerwise/core/error.h"
#include "layerwise/data/image_dataset.h"
#include "layerwise/data/image_folder.h"
#include "layerwise/data/image_pipeline.h"

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

// Images made model-ready per batch: folders, and IDX data resized, cropped, given channels or a
// per-channel normalization.
bool per_batch_images(const DataConfig& c) {
  return c.dataset == Dataset::folder || !c.resize.empty() || !c.crop.empty() || c.channels != 0 ||
         !c.channel_mean.empty() || !c.channel_std.empty();
}

// IDX images in [0, 1] back to the uint8 (H, W, 1) they were stored as, one view per image.
std::shared_ptr<StoredImages> stored_images(const ImageDataset& d) {
  const auto pixels =
      d.images.mul(255).round_().to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
  auto stored = std::make_shared<StoredImages>();
  stored->reserve(d.size());
  for (int64_t i = 0; i < d.size(); ++i) stored->push_back(pixels[i]);  // (H, W, 1)
  return stored;
}

// Stored images made model-ready per batch; at once when the pipeline changes no pixel (images of
// one size kept at that size and channel count): then the split takes the memory it takes today
// and training reads it from device memory.
Inputs image_inputs(std::shared_ptr<const StoredImages> images, const torch::Tensor& index,
                    const ImagePipeline& pipeline) {
  Inputs inputs(images, index, pipeline);
  const auto contiguous = index.to(torch::kInt64).contiguous();
  const auto* rows = contiguous.data_ptr<int64_t>();
  for (int64_t i = 0; i < contiguous.numel(); ++i) {
    const auto& image = (*images)[rows[i]];
    const std::vector<int64_t> stored = {image.size(2), image.size(0), image.size(1)};
    if (stored != inputs.sample_shape()) return inputs;
  }
  return inputs.materialize(torch::kCPU);
}

Examples take(const ImageDataset& d, const torch::Tensor& index, const DataConfig& c) {
  if (per_batch_images(c))
    return {image_inputs(stored_images(d), index, image_pipeline(c, 1)),
            d.labels.index_select(0, index)};
  return {normalize_images(d.images.index_select(0, index), c.mean, c.std),
          d.labels.index_select(0, index)};
}

// Mean and standard deviation of the pixels in [0, 1] of `images` (every channel).
std::pair<double, double> pixel_moments(const StoredImages& images) {
  double sum = 0, sum_sq = 0, count = 0;
  for (const auto& image : images) {
    const auto x = image.to(torch::kFloat64).div_(255);
    sum += x.sum().item<double>();
    sum_sq += x.square().sum().item<double>();
    count += double(x.numel());
  }
  const double mean = sum / count;
  return {mean, std::sqrt(std::max(0.0, (sum_sq - count * mean * mean) / (count - 1)))};
}

// The files of each split of an image folder: its own val / test folders where it has them,
// seeded stratified splits of the training files otherwise; each part in a seeded order that
// mixes the classes (so that --train-limit and --samples keep a fair sample).
struct FolderParts {
  ImageFiles train, val, test;
  std::vector<std::string> class_names;
};

FolderParts folder_parts(const DataConfig& c) {
  LW_CHECK(!c.dir.empty(), "dataset folder needs data.dir: DIR/train/<class>/*.png|jpg (with ",
           "optional DIR/val, DIR/test) or DIR/<class>/*.png|jpg");
  const auto folder = scan_image_folder(c.dir);
  const auto mixed = [&](const ImageFiles& files) {
    return files.subset(stratified_split(files.labels, files.size(), 0, 0, c.split_seed).train);
  };
  const bool own_val = folder.val.size() > 0, own_test = folder.test.size() > 0;
  FolderParts parts;
  parts.class_names = folder.class_names;
  if (own_val && own_test) {
    parts.train = mixed(folder.train);
    parts.val = mixed(folder.val);
    parts.test = mixed(folder.test);
    return parts;
  }
  // A training folder and a val folder only (ImageNet's layout): val is the held-out test set.
  const double test_fraction = own_val || own_test ? 0.0 : c.test_fraction;
  const auto split = stratified_split(folder.train.labels, folder.train.size(), c.val_fraction,
                                      test_fraction, c.split_seed);
  parts.train = folder.train.subset(split.train);
  parts.val = folder.train.subset(split.val);
  parts.test = own_test  ? mixed(folder.test)
               : own_val ? mixed(folder.val)
                         : folder.train.subset(split.test);
  return parts;
}

ImageFiles first(ImageFiles files, int64_t limit) {
  if (limit > 0 && limit < files.size()) {
    files.paths.resize(limit);
    files.labels.resize(limit);
  }
  return files;
}

// Decodes one part; skipped files are reported on stderr (and counted by the caller).
DecodedImages decode_part(const ImageFiles& files, const DataConfig& c, const std::string& name,
                          bool quiet) {
  LW_CHECK(files.size() > 0, c.dir, ": the ", name, " split has no images");
  auto decoded = decode_image_files(files, c.skip_bad_images, quiet ? "" : "decoding " + name);
  if (!decoded.skipped.empty())
    std::cerr << "layerwise: " << name << ": left out " << decoded.skipped.size()
              << " unreadable file(s), first: " << decoded.skipped[0] << "\n";
  return decoded;
}

Examples folder_examples(const DecodedImages& d, const DataConfig& c) {
  const auto all = torch::arange(int64_t(d.images->size()), torch::kInt64);
  return {image_inputs(d.images, all, image_pipeline(c, d.max_channels)), d.labels};
}

TaskData load_folder_task(DataConfig& c, bool quiet) {
  const auto parts = folder_parts(c);
  const auto train = decode_part(first(parts.train, c.train_limit), c, "train", quiet);
  const auto val = decode_part(first(parts.val, c.val_limit), c, "val", quiet);
  c.skipped_images = int64_t(train.skipped.size() + val.skipped.size());
  if (c.channels == 0) c.channels = std::max(train.max_channels, val.max_channels) >= 3 ? 3 : 1;
  if (c.mean == 0 && c.std == 0 && c.channel_std.empty())
    std::tie(c.mean, c.std) = pixel_moments(*train.images);
  TaskData task;
  task.train = folder_examples(train, c);
  task.val = folder_examples(val, c);
  task.class_names = parts.class_names;
  task.n_classes = int64_t(task.class_names.size());
  task.input_shape = task.train.inputs.sample_shape();
  return task;
}

}  // namespace

TaskData load_task(DataConfig& c, const std::string& run_dir, bool quiet) {
  if (c.is_text()) return load_text_task(c, run_dir);
  validate(c);
  if (c.dataset == Dataset::folder) return load_folder_task(c, quiet);
  const auto file = read_file_split(c, "train");
  const auto split = split_train_val(file.size(), c.val_fraction, c.split_seed);
  auto train_index = split.train_index;
  if (c.train_limit > 0 && c.train_limit < train_index.numel())
    train_index = train_index.slice(0, 0, c.train_limit);
  if (c.mean == 0 && c.std == 0 && c.channel_std.empty()) {
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
  task.input_shape = task.train.inputs.sample_shape();
  return task;
}

std::vector<std::string> task_class_names(const DataConfig& c, const std::string& run_dir) {
  if (c.dataset == Dataset::folder) return scan_image_folder(c.dir).class_names;
  auto copy = c;
  return load_task(copy, run_dir).class_names;
}

Examples load_split(const DataConfig& c, const std::string& split, int64_t max_samples,
                    const std::string& run_dir) {
  if (c.is_text()) return load_text_split(c, split, max_samples, run_dir);
  validate(c);
  LW_CHECK(c.std > 0 || !c.channel_std.empty(),
           "data.std must be > 0 (it is measured when training starts)");
  LW_CHECK(max_samples >= 0, "the sample limit must be >= 0, got ", max_samples);
  LW_CHECK(split == "test" || split == "train" || split == "val", "split '", split,
           "' is not known; use test, val or train");
  if (c.dataset == Dataset::folder) {
    const auto parts = folder_parts(c);
    const auto& files = split == "test" ? parts.test : split == "val" ? parts.val : parts.train;
    const int64_t limit = split == "train" ? c.train_limit : split == "val" ? c.val_limit : 0;
    auto chosen = first(files, limit);
    if (max_samples > 0) chosen = first(chosen, max_samples);
    return folder_examples(decode_part(chosen, c, split, true), c);
  }
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
