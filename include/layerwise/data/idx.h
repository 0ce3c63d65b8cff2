// Reading the IDX format of MNIST-style datasets: a 4-byte magic number 00 00 <type> <n_dims>,
// n_dims big-endian uint32 sizes, then the values in row-major order. A file may be
// gzip-compressed as a whole (recognised by its 1f 8b magic), as the published files are.
//
// Only type 0x08 (unsigned byte) is read: every image and label file of MNIST, Fashion-MNIST,
// KMNIST and EMNIST uses it.
#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

namespace layerwise::data {

/// The largest data size read_idx accepts, in bytes (4 GiB). Memory grows with the bytes actually
/// read, never with what a header claims, so a lying header costs at most this bound.
constexpr uint64_t kIdxMaxBytes = uint64_t{1} << 32;

/// Reads a whole IDX file, plain or gzip-compressed, into a CPU uint8 tensor of the stored shape
/// (1 to 4 dimensions). Throws layerwise::Error naming the file when it is missing or unreadable,
/// has a bad magic number, a type other than 0x08, 0 or more than 4 dimensions, sizes describing
/// more than kIdxMaxBytes, fewer or more data bytes than its sizes describe, or a corrupt gzip
/// stream.
torch::Tensor read_idx(const std::string& path);

}  // namespace layerwise::data
