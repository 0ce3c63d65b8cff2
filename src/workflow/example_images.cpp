#include "layerwise/workflow/example_images.h"

#include <filesystem>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/core/staged_folder.h"
#include "layerwise/data/image_dataset.h"
#include "layerwise/data/image_resize.h"
#include "layerwise/data/image_write.h"

namespace layerwise::workflow {

namespace {

// A class name as a folder name: "T-shirt/top" -> "T-shirt_top".
std::string folder_name(std::string name) {
  for (char& c : name)
    if (c == '/' || c == '\\') c = '_';
  return name;
}

// Grey (H, W, 1) -> RGB with a colour cast that depends on the class, so colour carries signal.
torch::Tensor tinted(const torch::Tensor& grey, int64_t label) {
  const auto x = grey.to(torch::kFloat32);  // (H, W, 1)
  const auto tint = torch::tensor({1.0f, 0.6f + 0.04f * float(label), 0.8f}).view({1, 1, 3});
  return (x * tint).round().clamp(0, 255).to(torch::kUInt8);  // (H, W, 3)
}

// The file of the example-th image of a class, in the form its position selects.
std::pair<std::string, std::string> encode(const torch::Tensor& grey, int64_t label,
                                           int64_t example) {
  using data::ResizeFilter;
  switch (example % 5) {
    case 0:
      return {".png", data::encode_png(grey)};
    case 1:
      return {".jpg",
              data::encode_jpeg(
                  data::resize_image(tinted(grey, label), 36, 36, ResizeFilter::bicubic), 92)};
    case 2: {
      auto alpha = torch::full({28, 28, 1}, 255, torch::kUInt8);
      alpha.slice(0, 0, 2).fill_(0);  // a transparent top edge: alpha that the pipeline drops
      const auto rgba = torch::cat({tinted(grey, label), alpha}, 2);
      return {".png", data::encode_png(data::resize_image(rgba, 32, 32, ResizeFilter::bilinear))};
    }
    case 3:  // stored turned 90 degrees counter-clockwise; orientation 6 turns it back
      return {".jpeg", data::encode_jpeg(grey.rot90(1, {0, 1}).contiguous(), 95, 6)};
    default:
      return {".PNG", data::encode_png(
                          data::resize_image(tinted(grey, label), 42, 42, ResizeFilter::bilinear))};
  }
}

int64_t write_split(const std::string& root, const data::ImageDataset& d, int64_t per_class) {
  const auto pixels = d.images.mul(255).round().to(torch::kUInt8);  // (N, 1, H, W)
  std::vector<int64_t> written(d.n_classes, 0);
  int64_t total = 0;
  const auto* labels = d.labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < d.size() && total < per_class * d.n_classes; ++i) {
    const int64_t label = labels[i];
    if (written[label] >= per_class) continue;
    const auto folder = root + "/" + folder_name(d.class_names[label]);
    std::filesystem::create_directories(folder);
    const auto [extension, bytes] =
        encode(pixels[i].permute({1, 2, 0}).contiguous(), label, written[label]);
    write_file_atomic(folder + "/" + std::to_string(i) + extension, bytes);
    ++written[label];
    ++total;
  }
  return total;
}

}  // namespace

int64_t write_example_images(const std::string& dir, const ExampleImagesOptions& options) {
  LW_CHECK(options.train_per_class >= 1 && options.test_per_class >= 1,
           "example images: at least one image per class and split");
  StagedFolder staged(dir);
  int64_t files = 0;
  for (const auto& [split, per_class] :
       {std::pair{"train", options.train_per_class}, std::pair{"test", options.test_per_class}}) {
    const auto data = data::load_fashion_mnist(options.fashion_dir, split);
    files += write_split(staged.path() + "/" + split, data, per_class);
  }
  if (options.corrupt) {  // a PNG cut off after its header: unreadable
    const auto grey = torch::zeros({28, 28, 1}, torch::kUInt8);
    const auto bytes = data::encode_png(grey);
    write_file_atomic(staged.path() + "/train/Bag/truncated.png", bytes.substr(0, 40));
    ++files;
  }
  staged.commit();
  return files;
}

}  // namespace layerwise::workflow
