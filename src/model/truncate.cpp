#include "layerwise/model/truncate.h"

#include <map>
#include <string>
#include <utility>

#include "layerwise/core/error.h"
#include "layerwise/model/weights.h"

namespace layerwise::model {

namespace {

bool own_head_at(const ModelConfig& config, int64_t depth) {
  return config.heads == HeadMode::per_layer && depth < config.n_layers;
}

// The source tensor of the cut model's tensor `name`: the same name, except the final head of a
// per-layer model cut below its last layer, which is layer `depth`'s exit head.
std::string source_name(const ModelConfig& config, int64_t depth, const std::string& name) {
  if (!own_head_at(config, depth)) return name;
  const std::pair<std::string, std::string> renames[] = {{"final_norm.", "norm."},
                                                         {"classifier.", "fc."}};
  for (const auto& [ours, theirs] : renames)
    if (name.rfind(ours, 0) == 0)
      return str_cat("exit_heads.", depth - 1, ".", theirs, name.substr(ours.size()));
  return name;
}

}  // namespace

ModelConfig truncated_config(const ModelConfig& config, int64_t depth) {
  LW_CHECK(depth >= 1 && depth <= config.n_layers, "depth ", depth, " is outside 1..",
           config.n_layers, " (the model's layers)");
  auto out = config;
  out.n_layers = depth;
  if (own_head_at(config, depth)) {  // layer `depth`'s exit head: fc(norm(z)), with a bias
    out.head_input = HeadInput::norm;
    out.tie_embeddings = false;
  }
  return out;
}

ModelPtr truncate_model(LayeredModel& model, int64_t depth) {
  const auto& config = model.config();
  auto out = make_model(truncated_config(config, depth));
  std::map<std::string, torch::Tensor> source;
  for (auto& [name, weight] : named_weights(model)) source[name] = weight;
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (auto& [name, weight] : named_weights(*out)) {
    const auto from = source_name(config, depth, name);
    const auto it = source.find(from);
    LW_CHECK(it != source.end(), "truncate: the model has no tensor '", from, "' for ", name);
    tensors.emplace_back(name, it->second.detach());
  }
  const auto parameters = model.parameters();
  if (!parameters.empty()) out->to(parameters.front().device());
  load_weights(tensors, *out, str_cat("the first ", depth, " layers"));
  out->train(model.is_training());
  return out;
}

}  // namespace layerwise::model
