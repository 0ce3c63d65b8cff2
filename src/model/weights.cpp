#include "layerwise/model/weights.h"

#include <set>

#include "layerwise/core/error.h"
#include "layerwise/core/safetensors.h"

namespace layerwise::model {

std::vector<std::pair<std::string, torch::Tensor>> named_weights(torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : module.named_parameters()) out.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers()) out.emplace_back(item.key(), item.value());
  return out;
}

void save_weights(const std::string& path, torch::nn::Module& module,
                  const std::map<std::string, std::string>& metadata) {
  write_safetensors(path, named_weights(module), metadata);
}

void load_weights(const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                  torch::nn::Module& module, const std::string& source) {
  std::map<std::string, torch::Tensor> by_name(tensors.begin(), tensors.end());
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  for (auto& [name, weight] : named_weights(module)) {
    const auto it = by_name.find(name);
    LW_CHECK(it != by_name.end(), source, ": no tensor '", name, "' (the model needs it)");
    LW_CHECK(it->second.sizes() == weight.sizes(), source, ": tensor '", name, "' has shape ",
             it->second.sizes(), ", the model expects ", weight.sizes());
    LW_CHECK(it->second.is_floating_point() == weight.is_floating_point(), source, ": tensor '",
             name, "' has dtype ", it->second.scalar_type(), ", the model expects ",
             weight.scalar_type());
    // A NaN or infinite weight would turn every output into NaN: refuse it by name.
    LW_CHECK(!it->second.is_floating_point() || torch::isfinite(it->second).all().item<bool>(),
             source, ": tensor '", name, "' holds NaN or infinite values");
    weight.copy_(it->second);
    used.insert(name);
  }
  for (const auto& [name, value] : by_name)
    LW_CHECK(used.count(name), source, ": tensor '", name, "' is not a weight of this model");
}

void load_weights(const std::string& path, torch::nn::Module& module) {
  load_weights(read_safetensors(path).tensors, module, path);
}

}  // namespace layerwise::model
