// Image classification data for the vision models: MNIST-style IDX pairs, Fashion-MNIST,
// normalization, a deterministic train/validation split and per-epoch shuffled index batches.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace layerwise::data {

/// Labelled grayscale images, held whole in memory on the CPU.
struct ImageDataset {
  torch::Tensor images;  // (N, 1, H, W) float32 in [0, 1]
  torch::Tensor labels;  // (N) int64 in [0, n_classes)
  int64_t n_classes = 0;
  std::vector<std::string> class_names;  // n_classes names, index = label

  int64_t size() const { return labels.size(0); }
};

/// Reads an image IDX file of shape (N, H, W) and a label IDX file of shape (N) (see read_idx);
/// pixels are scaled to [0, 1]. n_classes is the largest label + 1 (uint8 labels: at most 256),
/// class names are "0", "1", ... Throws layerwise::Error naming the file(s) for any read_idx error,
/// other shapes, differing N, or N = 0.
ImageDataset load_idx_pair(const std::string& images_path, const std::string& labels_path);

/// The "train" or "test" pair of an MNIST-format folder: {train,t10k}-images-idx3-ubyte and
/// {train,t10k}-labels-idx1-ubyte, each plain or .gz. Errors as load_idx_pair, or a missing
/// folder or file.
ImageDataset load_idx_folder(const std::string& folder, const std::string& split);

/// Where the Debian package dataset-fashion-mnist installs the data.
constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
/// Mean and standard deviation of the Fashion-MNIST training pixels in [0, 1] (all 60000 images),
/// the usual values for normalize_images.
constexpr double kFashionMnistMean = 0.2860;
constexpr double kFashionMnistStd = 0.3530;

/// Fashion-MNIST's "train" (60000 images) or "test" (10000) split, 1 x 28 x 28, 10 named classes,
/// read from {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (or the same names without .gz) in
/// `dir`; an empty `dir` means kFashionMnistDir. A missing folder or file raises layerwise::Error
/// saying to install dataset-fashion-mnist or pass --data-dir.
ImageDataset load_fashion_mnist(const std::string& dir, const std::string& split);

/// (images - mean) / std, elementwise; std must be positive.
torch::Tensor normalize_images(const torch::Tensor& images, double mean, double std);

/// Sample indices (int64, sorted ascending) of a train/validation split.
struct Split {
  torch::Tensor train_index;  // (N - n_val)
  torch::Tensor val_index;    // (n_val)
};

/// Splits 0..n-1 by a permutation seeded with `seed`: round(val_fraction * n) indices (at most
/// n - 1) go to validation, the rest to training. Disjoint, covering, and the same for the same
/// seed (and LibTorch version). Throws layerwise::Error unless 0 <= val_fraction < 1 and n >= 0.
Split split_train_val(int64_t n, double val_fraction, uint64_t seed);

/// The entries of `index` (1-D int64, any device) in an order shuffled by (seed, epoch), cut into
/// batches of batch_size; the last batch keeps the remainder. Every entry appears exactly once per
/// epoch; the same (seed, epoch) gives the same batches. Empty index: no batches.
std::vector<torch::Tensor> shuffled_batches(const torch::Tensor& index, int64_t batch_size,
                                            uint64_t seed, int64_t epoch);

}  // namespace layerwise::data
