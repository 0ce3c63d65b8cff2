#include "layerwise/data/image_folder.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <mutex>

#include "layerwise/core/error.h"
#include "layerwise/core/parallel.h"
#include "layerwise/core/progress.h"
#include "layerwise/data/image_file.h"

namespace layerwise::data {

namespace fs = std::filesystem;

namespace {

bool is_image_file(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// Sorted names of the sub-folders of `dir`.
std::vector<std::string> sub_folders(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error))
    if (it->is_directory()) names.push_back(it->path().filename().string());
  LW_CHECK(!error, dir.string(), ": cannot be listed (", error.message(), ")");
  std::sort(names.begin(), names.end());
  return names;
}

// The images of every class folder under `dir`, labelled by the class's position in `classes`.
ImageFiles list_classes(const fs::path& dir, const std::vector<std::string>& classes) {
  std::vector<std::pair<std::string, int64_t>> found;
  for (const auto& name : sub_folders(dir)) {
    const auto at = std::find(classes.begin(), classes.end(), name);
    LW_CHECK(at != classes.end(), (dir / name).string(),
             ": a class the training folder does not have");
    std::error_code error;
    for (fs::recursive_directory_iterator it(dir / name, error), end; !error && it != end;
         it.increment(error))
      if (it->is_regular_file() && is_image_file(it->path()))
        found.emplace_back(it->path().string(), int64_t(at - classes.begin()));
    LW_CHECK(!error, (dir / name).string(), ": cannot be listed (", error.message(), ")");
  }
  std::sort(found.begin(), found.end());
  ImageFiles files;
  for (auto& [path, label] : found) {
    files.paths.push_back(std::move(path));
    files.labels.push_back(label);
  }
  return files;
}

}  // namespace

ImageFiles ImageFiles::subset(const std::vector<int64_t>& index) const {
  ImageFiles out;
  for (const int64_t i : index) {
    out.paths.push_back(paths.at(i));
    out.labels.push_back(labels.at(i));
  }
  return out;
}

ImageFolder scan_image_folder(const std::string& dir) {
  LW_CHECK(fs::is_directory(dir), dir,
           ": no such folder (dataset folder needs --data-dir DIR with ",
           "DIR/train/<class>/*.png|jpg or DIR/<class>/*.png|jpg)");
  ImageFolder folder;
  folder.split_folders = fs::is_directory(fs::path(dir) / "train");
  const fs::path classes_dir = folder.split_folders ? fs::path(dir) / "train" : fs::path(dir);
  folder.class_names = sub_folders(classes_dir);
  LW_CHECK(folder.class_names.size() >= 2, classes_dir.string(), ": ", folder.class_names.size(),
           " class folder(s); a classification needs at least 2");
  folder.train = list_classes(classes_dir, folder.class_names);
  LW_CHECK(folder.train.size() > 0, classes_dir.string(), ": no .png, .jpg or .jpeg files");
  if (folder.split_folders) {
    for (auto [name, part] : {std::pair{"val", &folder.val}, std::pair{"test", &folder.test}})
      if (fs::is_directory(fs::path(dir) / name))
        *part = list_classes(fs::path(dir) / name, folder.class_names);
  }
  return folder;
}

DecodedImages decode_image_files(const ImageFiles& files, bool skip_bad,
                                 const std::string& progress_label) {
  const int64_t n = files.size();
  std::vector<torch::Tensor> decoded(n);
  std::vector<std::string> errors(n);
  std::atomic<int64_t> done{0};
  std::mutex progress_mutex;
  Progress progress(progress_label.empty());
  parallel_items(n, [&](int64_t i) {
    try {
      auto image = read_image(files.paths[i]);  // (H, W, C)
      // Alpha is dropped by the pipeline: keep the colour channels only, in less memory.
      if (image.size(2) == 2 || image.size(2) == 4) image = to_channels(image, image.size(2) - 1);
      decoded[i] = image;
    } catch (const std::exception& e) {
      errors[i] = e.what();
    }
    const int64_t count = ++done;
    if (!progress_label.empty()) {
      std::lock_guard<std::mutex> lock(progress_mutex);
      progress.items(progress_label, count, n, "images");
    }
  });
  DecodedImages out;
  out.images = std::make_shared<StoredImages>();
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    if (!errors[i].empty()) {
      LW_CHECK(skip_bad, errors[i], " (--skip-bad-images leaves unreadable files out)");
      out.skipped.push_back(errors[i]);
      continue;
    }
    out.max_channels = std::max(out.max_channels, decoded[i].size(2));
    out.images->push_back(std::move(decoded[i]));
    labels.push_back(files.labels[i]);
  }
  LW_CHECK(!out.images->empty(), "no readable image among ", n,
           " files (first: ", n ? errors[0] : "none", ")");
  out.labels = torch::tensor(labels, torch::kInt64);
  return out;
}

}  // namespace layerwise::data
