// Reading and writing the safetensors format (https://huggingface.co/docs/safetensors):
// 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets},
// "__metadata__": {string: string}}, then the raw little-endian tensor bytes.
//
// Supported dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL. Reading is strict: a header
// length past the end of the file, offsets out of range, overlapping or leaving gaps, a shape whose
// element count does not match the byte count, an unknown dtype or malformed JSON each raise
// layerwise::Error naming the file and the tensor; nothing is allocated before the header is
// checked. Writing goes to a temporary file that is renamed into place, so a failed write leaves no
// partial file.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace layerwise {

/// Tensors in file order (ordered by data offset), with the file's string metadata.
struct SafetensorsFile {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  std::map<std::string, std::string> metadata;

  /// The tensor called `name`; throws layerwise::Error listing the available names if absent.
  const torch::Tensor& at(const std::string& name) const;
};

/// Reads a whole safetensors file into CPU tensors.
SafetensorsFile read_safetensors(const std::string& path);

/// Writes tensors (any device; copied to CPU, made contiguous) in the order given, atomically.
/// Throws layerwise::Error for duplicate or empty names and unsupported dtypes.
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace layerwise
