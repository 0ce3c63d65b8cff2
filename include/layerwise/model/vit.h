// Vision transformer (Dosovitskiy et al. 2021): patch embedding, class token, learned position
// embeddings, L pre-LN blocks, final LayerNorm, linear classifier on the pooled tokens: the class
// token (config pool cls) or the mean of the patch tokens (pool mean).
//
// Parameter names (timm's, so that checkpoints map by a rename table):
//   patch_embed.proj.{weight (D, C, P, P), bias}  cls_token (1, 1, D)  dist_token (1, 1, D) (DeiT
//   only)  pos_embed (1, K + N_p, D), K = 1 or 2 prefix tokens
//   blocks.<i>.*  (see block.h)  final_norm.*  classifier.*  exit_heads.* (see layered_model.h)
#pragma once

#include <torch/torch.h>

#include "layerwise/model/layered_model.h"

namespace layerwise::model {

class VitImpl : public LayeredModel {
 public:
  explicit VitImpl(const ModelConfig& config);

  torch::Tensor embed(const torch::Tensor& images) override;  // (B, C, H, W) -> (B, K + N_p, D)
  // (B, T, D) -> (B, T, D); images have no padding: mask is ignored
  torch::Tensor block(int64_t layer, const torch::Tensor& h,
                      const torch::Tensor& mask = {}) override;
  // the class token, or the mean of the patch tokens: (B, T, D) -> (B, D)
  torch::Tensor pool(const torch::Tensor& h, const torch::Tensor& mask = {}) override;

  torch::nn::Conv2d patch_proj{nullptr};
  torch::Tensor cls_token, dist_token, pos_embed;  // dist_token: undefined unless DeiT
  torch::nn::ModuleList blocks{nullptr};
};
TORCH_MODULE(Vit);

}  // namespace layerwise::model
