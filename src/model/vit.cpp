#include "layerwise/model/vit.h"

#include "layerwise/core/error.h"
#include "layerwise/model/block.h"

namespace layerwise::model {

VitImpl::VitImpl(const ModelConfig& config) : LayeredModel(config) {
  const int64_t d = config.block.d_model, p = config.patch_size;
  auto patch_embed = register_module("patch_embed", std::make_shared<torch::nn::Module>());
  patch_proj = patch_embed->register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(config.in_channels, d, p).stride(p)));
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, d}));
  if (config.distill_token) dist_token = register_parameter("dist_token", torch::zeros({1, 1, d}));
  const int64_t tokens = config.n_prefix_tokens() + config.n_patches();
  pos_embed = register_parameter("pos_embed", torch::zeros({1, tokens, d}));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t l = 0; l < config.n_layers; ++l) blocks->push_back(TransformerBlock(config.block));
  register_heads();

  init_transformer_weights(*this);
  truncated_normal_(patch_proj->weight, 0.02);
  truncated_normal_(cls_token, 0.02);
  if (dist_token.defined()) truncated_normal_(dist_token, 0.02);
  truncated_normal_(pos_embed, 0.02);
  torch::NoGradGuard no_grad;
  patch_proj->bias.zero_();
}

torch::Tensor VitImpl::embed(const torch::Tensor& images) {
  const auto& c = config();
  LW_CHECK(images.dim() == 4 && images.size(1) == c.in_channels && images.size(2) == c.image_size &&
               images.size(3) == c.image_size,
           "ViT expects images of shape (B, ", c.in_channels, ", ", c.image_size, ", ",
           c.image_size, "), got ", images.sizes());
  const int64_t batch = images.size(0);
  const auto patches = patch_proj(images)     // (B, D, H/P, W/P)
                           .flatten(2)        // (B, D, N_p)
                           .transpose(1, 2);  // (B, N_p, D)
  const int64_t d = cls_token.size(2);
  std::vector<torch::Tensor> tokens = {cls_token.expand({batch, 1, d})};  // (B, 1, D) each
  if (dist_token.defined()) tokens.push_back(dist_token.expand({batch, 1, d}));
  tokens.push_back(patches);
  return torch::cat(tokens, 1) + pos_embed;  // (B, K + N_p, D)
}

torch::Tensor VitImpl::block(int64_t layer, const torch::Tensor& h, const torch::Tensor&) {
  LW_CHECK(layer >= 1 && layer <= n_layers(), "ViT block ", layer, " is outside 1..", n_layers());
  return blocks[layer - 1]->as<TransformerBlock>()->forward(h);
}

torch::Tensor VitImpl::pool(const torch::Tensor& h, const torch::Tensor&) {
  if (config().pool == Pooling::mean)
    return h.slice(1, config().n_prefix_tokens()).mean(1);  // (B, D) over the patch tokens
  return h.select(1, 0);                                    // (B, D) the class token
}

}  // namespace layerwise::model
