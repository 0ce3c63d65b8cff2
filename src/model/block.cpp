#include "layerwise/model/block.h"

#include <cmath>

#include "layerwise/core/compat.h"
#include "layerwise/model/fused_layer_norm.h"

namespace layerwise::model {

torch::nn::LayerNorm make_layer_norm(int64_t d, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(eps));
}

SelfAttentionImpl::SelfAttentionImpl(const BlockConfig& config)
    : n_heads_(config.n_heads), causal_(config.causal) {
  qkv = register_module("qkv", torch::nn::Linear(config.d_model, 3 * config.d_model));
  proj = register_module("proj", torch::nn::Linear(config.d_model, config.d_model));
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& key_mask) {
  const int64_t batch = x.size(0), tokens = x.size(1), width = x.size(2);
  const auto heads = apply_linear(qkv, x)                                       // (B, T, 3D)
                         .view({batch, tokens, 3, n_heads_, width / n_heads_})  // (B, T, 3, H, Dh)
                         .permute({2, 0, 3, 1, 4});                             // (3, B, H, T, Dh)
  // unbind, not three selects: its backward stacks the three gradients into one tensor instead
  // of summing three zero-filled (3, B, H, T, Dh) tensors.
  const auto qkv_parts = heads.unbind(0);  // 3 of (B, H, T, Dh)
  const auto mixed = compat::attention(qkv_parts[0], qkv_parts[1], qkv_parts[2], causal_,
                                       key_mask);  // (B, H, T, Dh)
  return apply_linear(proj, mixed.transpose(1, 2).reshape({batch, tokens, width}));  // (B, T, D)
}

MlpImpl::MlpImpl(const BlockConfig& config) : gelu_(config.gelu) {
  fc1 = register_module("fc1", torch::nn::Linear(config.d_model, config.d_ff));
  fc2 = register_module("fc2", torch::nn::Linear(config.d_ff, config.d_model));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  const auto hidden = torch::gelu(apply_linear(fc1, x), gelu_ == Gelu::tanh ? "tanh" : "none");
  return apply_linear(fc2, hidden);  // (B, T, D)
}

TransformerBlockImpl::TransformerBlockImpl(const BlockConfig& config)
    : pre_norm_(config.pre_norm), dropout_(config.dropout) {
  norm1 = register_module("norm1", make_layer_norm(config.d_model, config.ln_eps));
  attn = register_module("attn", SelfAttention(config));
  norm2 = register_module("norm2", make_layer_norm(config.d_model, config.ln_eps));
  mlp = register_module("mlp", Mlp(config));
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& key_mask) {
  // Residual dropout (a no-op at p = 0 and in eval mode) on each branch before it joins the stream.
  auto drop = [this](const torch::Tensor& t) {
    return dropout_ > 0 && is_training() ? torch::dropout(t, dropout_, true) : t;
  };
  if (pre_norm_) {
    // The residual add and the norm after it in one op (fused CUDA kernels where built, else the
    // ATen ops); under CUDA bf16 autocast the norms write the bf16 the next linear reads.
    const auto out_dtype =
        x.is_cuda() && compat::cuda_bf16_autocast() ? torch::kBFloat16 : x.scalar_type();
    const auto n1 = add_layer_norm(x, {}, norm1->weight, norm1->bias, norm1->options.eps(),
                                   out_dtype);  // normed (B, T, D)
    const auto h = add_layer_norm(x, drop(attn(n1.normed, key_mask)), norm2->weight, norm2->bias,
                                  norm2->options.eps(), out_dtype);  // sum, normed (B, T, D)
    return h.sum + drop(mlp(h.normed));
  }
  const auto h = norm1(x + drop(attn(x, key_mask)));  // (B, T, D)
  return norm2(h + drop(mlp(h)));
}

void truncated_normal_(torch::Tensor weight, double std) {
  torch::NoGradGuard no_grad;
  const double bound = std::erf(2.0 / std::sqrt(2.0));  // 2 Phi(2) - 1: inverse-CDF sampling
  weight.uniform_(-bound, bound).erfinv_().mul_(std * std::sqrt(2.0));
}

void init_transformer_weights(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& child : module.modules(/*include_self=*/false)) {
    if (auto* linear = child->as<torch::nn::Linear>()) {
      truncated_normal_(linear->weight, 0.02);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* norm = child->as<torch::nn::LayerNorm>()) {
      norm->weight.fill_(1.0);
      norm->bias.zero_();
    }
  }
}

}  // namespace layerwise::model
