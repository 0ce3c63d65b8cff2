#include "layerwise/data/image_dataset.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/data/idx.h"

namespace layerwise::data {

namespace {

const char* const kInstallHint =
    "install the Debian package dataset-fashion-mnist or pass --data-dir with the folder holding "
    "{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz";

// dir/name.gz, or dir/name for users who unpacked the files.
std::string find_fashion_file(const std::string& dir, const std::string& name) {
  const std::string gz = dir + "/" + name + ".gz";
  if (file_exists(gz)) return gz;
  if (file_exists(dir + "/" + name)) return dir + "/" + name;
  throw Error(str_cat("data file '", gz, "' not found (nor without .gz): ", kInstallHint));
}

// Splitmix64's finalizer: neighbouring (seed, epoch) pairs get unrelated generator seeds.
uint64_t mix_seed(uint64_t seed, uint64_t epoch) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (epoch + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

torch::Tensor seeded_permutation(int64_t n, uint64_t seed) {
  auto generator = at::detail::createCPUGenerator(seed);
  return torch::randperm(n, generator);  // (n) int64
}

}  // namespace

ImageDataset load_idx_pair(const std::string& images_path, const std::string& labels_path) {
  const auto images = read_idx(images_path);  // (N, H, W) uint8
  const auto labels = read_idx(labels_path);  // (N) uint8
  LW_CHECK(images.dim() == 3, "image IDX file '", images_path, "' has shape ", images.sizes(),
           ": expected 3 dimensions (N, H, W)");
  LW_CHECK(labels.dim() == 1, "label IDX file '", labels_path, "' has shape ", labels.sizes(),
           ": expected 1 dimension (N)");
  LW_CHECK(images.size(0) == labels.size(0), "image IDX file '", images_path, "' holds ",
           images.size(0), " images but label IDX file '", labels_path, "' holds ", labels.size(0),
           " labels: expected the same number");
  LW_CHECK(images.size(0) > 0, "IDX files '", images_path, "' and '", labels_path,
           "' hold no samples");
  ImageDataset data;
  data.images = images.unsqueeze(1).to(torch::kFloat32).div_(255.0);  // (N, 1, H, W)
  data.labels = labels.to(torch::kInt64);                             // (N)
  data.n_classes = data.labels.max().item<int64_t>() + 1;
  for (int64_t c = 0; c < data.n_classes; ++c) data.class_names.push_back(std::to_string(c));
  return data;
}

ImageDataset load_idx_folder(const std::string& folder, const std::string& split) {
  LW_CHECK(split == "train" || split == "test", "unknown split '", split,
           "': expected 'train' or 'test'");
  LW_CHECK(directory_exists(folder), "data folder '", folder, "' not found");
  const std::string prefix = split == "train" ? "train" : "t10k";  // the published file names
  return load_idx_pair(find_fashion_file(folder, prefix + "-images-idx3-ubyte"),
                       find_fashion_file(folder, prefix + "-labels-idx1-ubyte"));
}

ImageDataset load_fashion_mnist(const std::string& dir, const std::string& split) {
  const std::string folder = dir.empty() ? kFashionMnistDir : dir;
  LW_CHECK(directory_exists(folder), "Fashion-MNIST folder '", folder,
           "' not found: ", kInstallHint);
  ImageDataset data = load_idx_folder(folder, split);
  LW_CHECK(data.n_classes <= 10, "Fashion-MNIST label file '",
           find_fashion_file(
               folder, (split == "train" ? "train" : "t10k") + std::string("-labels-idx1-ubyte")),
           "' holds label ", data.n_classes - 1, ": expected 0 to 9");
  data.n_classes = 10;
  data.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return data;
}

torch::Tensor normalize_images(const torch::Tensor& images, double mean, double std) {
  LW_CHECK(std::isfinite(mean) && std::isfinite(std) && std > 0,
           "image normalization needs a finite mean and a positive std, got mean ", mean, ", std ",
           std);
  return (images - mean) / std;
}

Split split_train_val(int64_t n, double val_fraction, uint64_t seed) {
  LW_CHECK(n >= 0, "cannot split ", n, " samples");
  LW_CHECK(val_fraction >= 0 && val_fraction < 1,  // also false for NaN
           "validation fraction must be in [0, 1), got ", val_fraction);
  const int64_t n_val =
      n == 0 ? 0 : std::min(n - 1, static_cast<int64_t>(std::llround(val_fraction * n)));
  const auto order = seeded_permutation(n, seed);  // (n)
  // Sorted so that evaluation visits samples in file order whatever the seed.
  return {std::get<0>(order.slice(0, n_val).sort()), std::get<0>(order.slice(0, 0, n_val).sort())};
}

std::vector<torch::Tensor> shuffled_batches(const torch::Tensor& index, int64_t batch_size,
                                            uint64_t seed, int64_t epoch) {
  LW_CHECK(index.dim() == 1 && index.scalar_type() == torch::kInt64,
           "batch index must be a 1-D int64 tensor, got ", index.scalar_type(), " of shape ",
           index.sizes());
  LW_CHECK(batch_size > 0, "batch size must be positive, got ", batch_size);
  LW_CHECK(epoch >= 0, "epoch must be >= 0, got ", epoch);
  if (index.numel() == 0) return {};
  const auto order = seeded_permutation(index.size(0), mix_seed(seed, uint64_t(epoch)));  // (n)
  const auto shuffled = index.index_select(0, order.to(index.device()));                  // (n)
  return shuffled.split(batch_size);  // ceil(n / batch_size) batches, the last possibly shorter
}

}  // namespace layerwise::data
