#include "layerwise/model/layered_model.h"

#include "layerwise/core/error.h"
#include "layerwise/model/block.h"
#include "layerwise/model/text_models.h"
#include "layerwise/model/vit.h"

namespace layerwise::model {

ExitHeadImpl::ExitHeadImpl(int64_t d_model, int64_t n_classes, double ln_eps) {
  norm = register_module("norm", make_layer_norm(d_model, ln_eps));
  fc = register_module("fc", torch::nn::Linear(d_model, n_classes));
}

torch::Tensor ExitHeadImpl::forward(const torch::Tensor& z) {
  return apply_linear(fc, norm(z));
}

LayeredModel::LayeredModel(const ModelConfig& config) : config_(config) {
  validate(config_);
}

void LayeredModel::register_heads(const torch::Tensor& tied_weight) {
  const auto& b = config_.block;
  if (config_.head_input == HeadInput::pooler)
    pooler = register_module("pooler", torch::nn::Linear(b.d_model, b.d_model));
  else
    final_norm = register_module("final_norm", make_layer_norm(b.d_model, b.ln_eps));
  tied_weight_ = tied_weight;
  if (!tied_weight_.defined())
    classifier = register_module("classifier", torch::nn::Linear(b.d_model, config_.n_classes));
  exit_heads = register_module("exit_heads", torch::nn::ModuleList());
  if (config_.heads == HeadMode::per_layer)
    for (int64_t l = 1; l < config_.n_layers; ++l)
      exit_heads->push_back(ExitHead(b.d_model, config_.n_classes, b.ln_eps));
}

std::vector<torch::Tensor> LayeredModel::forward_layers(const torch::Tensor& input, int64_t up_to) {
  if (up_to < 0) up_to = n_layers();
  LW_CHECK(up_to <= n_layers(), "forward_layers: layer ", up_to, " asked of a model with ",
           n_layers(), " layers");
  const auto mask = token_mask(input);
  std::vector<torch::Tensor> hidden;
  hidden.reserve(up_to + 1);
  hidden.push_back(embed(input));
  for (int64_t l = 1; l <= up_to; ++l) hidden.push_back(block(l, hidden.back(), mask));
  return hidden;
}

torch::Tensor LayeredModel::head(const torch::Tensor& z) {
  const auto read = pooler ? torch::tanh(apply_linear(pooler, z)) : final_norm(z);  // (..., D)
  if (tied_weight_.defined()) return torch::linear(read, tied_weight_);
  return apply_linear(classifier, read);
}

torch::Tensor LayeredModel::head_at(const torch::Tensor& z, int64_t layer) {
  LW_CHECK(layer >= 1 && layer <= n_layers(), "head_at: layer ", layer, " is outside 1..",
           n_layers());
  if (config_.heads == HeadMode::shared || layer == n_layers()) return head(z);
  return exit_heads[layer - 1]->as<ExitHead>()->forward(z);
}

torch::Tensor LayeredModel::forward(const torch::Tensor& input) {
  return head(pool(forward_layers(input).back(), token_mask(input)));
}

ModelPtr make_model(const ModelConfig& config) {
  validate(config);
  if (config.arch == Arch::text_encoder) return std::make_shared<TextEncoderImpl>(config);
  if (config.arch == Arch::text_decoder) return std::make_shared<TextDecoderImpl>(config);
  return std::make_shared<VitImpl>(config);
}

int64_t count_parameters(torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace layerwise::model
