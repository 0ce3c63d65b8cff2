// Model weights as named tensors: saving to and loading from safetensors, strictly.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace layerwise::model {

/// Parameters then buffers, in registration order, with their dotted names.
std::vector<std::pair<std::string, torch::Tensor>> named_weights(torch::nn::Module& module);

/// Writes named_weights(module) to `path` atomically (float32 as stored).
void save_weights(const std::string& path, torch::nn::Module& module,
                  const std::map<std::string, std::string>& metadata = {});

/// Copies the tensors of `path` into the module's weights (any device). Every weight must be in
/// the file with the same shape, and every tensor of the file must be a weight; otherwise throws
/// layerwise::Error naming the file and the tensor.
void load_weights(const std::string& path, torch::nn::Module& module);

/// The same check and copy from tensors already in memory; `source` names where they came from.
void load_weights(const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                  torch::nn::Module& module, const std::string& source);

}  // namespace layerwise::model
