// The transformer block shared by every model: multi-head self-attention and an MLP, each with a
// residual connection, pre- or post-LayerNorm by configuration.
//
// Parameter names (stable, used in safetensors files and by the checkpoint rename tables):
//   norm1.{weight,bias}  attn.qkv.{weight,bias} (3 d, d: rows q, then k, then v)
//   attn.proj.{weight,bias} norm2.{weight,bias}  mlp.fc1.{weight,bias} (d_ff, d)
//   mlp.fc2.{weight,bias} (d, d_ff)
#pragma once

#include <torch/torch.h>

#include "layerwise/model/config.h"

namespace layerwise::model {

/// x W^T + b through ATen's linear, which folds a contiguous (..., in) input into one GEMM with the
/// bias in its epilogue. torch::nn::Linear's own forward does not for inputs of more than two
/// dimensions (a matmul, then a separate broadcasting bias add): measured on an H100, that add
/// cost 18 ms of a 118 ms ViT-B/16 training step (docs/PERFORMANCE.md).
inline torch::Tensor apply_linear(const torch::nn::Linear& layer, const torch::Tensor& x) {
  return torch::linear(x, layer->weight, layer->bias);  // (..., out)
}

class SelfAttentionImpl : public torch::nn::Module {
 public:
  explicit SelfAttentionImpl(const BlockConfig& config);
  /// (B, T, D) -> (B, T, D); key_mask (B, T) bool marks real tokens (undefined: all real).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_mask = {});

  torch::nn::Linear qkv{nullptr}, proj{nullptr};

 private:
  int64_t n_heads_;
  bool causal_;
};
TORCH_MODULE(SelfAttention);

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const BlockConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, D) -> (B, T, D)

  torch::nn::Linear fc1{nullptr}, fc2{nullptr};

 private:
  Gelu gelu_;
};
TORCH_MODULE(Mlp);

class TransformerBlockImpl : public torch::nn::Module {
 public:
  explicit TransformerBlockImpl(const BlockConfig& config);
  /// (B, T, D) -> (B, T, D); key_mask (B, T) bool marks real tokens (undefined: all real).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_mask = {});

  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  SelfAttention attn{nullptr};
  Mlp mlp{nullptr};

 private:
  bool pre_norm_;
  double dropout_;
};
TORCH_MODULE(TransformerBlock);

/// LayerNorm over the last dimension of width d with epsilon eps.
torch::nn::LayerNorm make_layer_norm(int64_t d, double eps);

/// Fills `weight` in place from N(0, std) truncated to [-2 std, 2 std].
void truncated_normal_(torch::Tensor weight, double std);

/// Initializes as timm/BERT do: linear weights from N(0, 0.02) truncated at 2 std, biases 0,
/// LayerNorm weight 1 and bias 0. Applied to every submodule of `module` (not `module` itself, so
/// that constructors may call it).
void init_transformer_weights(torch::nn::Module& module);

}  // namespace layerwise::model
