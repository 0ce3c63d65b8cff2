#include "layerwise/model/text_models.h"

#include "layerwise/core/error.h"
#include "layerwise/model/block.h"

namespace layerwise::model {

torch::Tensor masked_mean(const torch::Tensor& h, const torch::Tensor& mask) {
  if (!mask.defined()) return h.mean(1);
  const auto weights = mask.unsqueeze(-1).to(h.scalar_type());  // (B, T, 1)
  return (h * weights).sum(1) / weights.sum(1).clamp_min(1.0);  // (B, D)
}

TextTransformer::TextTransformer(const ModelConfig& config) : LayeredModel(config) {
  const int64_t d = config.block.d_model;
  tok_embed = register_module("tok_embed", torch::nn::Embedding(config.vocab_size, d));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, config.max_len, d}));
  if (config.type_vocab_size > 0)
    type_embed = register_module("type_embed", torch::nn::Embedding(config.type_vocab_size, d));
  if (config.embed_norm)
    embed_norm = register_module("embed_norm", make_layer_norm(d, config.block.ln_eps));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t l = 0; l < config.n_layers; ++l) blocks->push_back(TransformerBlock(config.block));
}

torch::Tensor TextTransformer::embed(const torch::Tensor& ids) {
  return embed_tokens(ids, {});
}

torch::Tensor TextTransformer::embed_tokens(const torch::Tensor& ids, const torch::Tensor& types) {
  const auto& c = config();
  LW_CHECK(ids.dim() == 2 && ids.scalar_type() == torch::kInt64 && ids.size(1) >= 1, c.arch,
           " expects token ids of shape (B, T) int64, got ", ids.sizes(), " ", ids.scalar_type());
  LW_CHECK(ids.size(1) <= c.max_len, c.arch, ": sequences of ", ids.size(1),
           " tokens are longer than the model's max_len ", c.max_len);
  const int64_t t = ids.size(1);
  auto h = tok_embed(ids) + pos_embed.slice(1, 0, t);  // (B, T, D)
  if (type_embed) {
    LW_CHECK(!types.defined() || types.sizes() == ids.sizes(), "token types of shape ",
             types.sizes(), " do not match token ids of shape ", ids.sizes());
    h = h + (types.defined() ? type_embed(types) : type_embed->weight[0]);
  } else {
    LW_CHECK(!types.defined(), c.arch, " has no token-type embeddings (type_vocab_size 0)");
  }
  return embed_norm ? embed_norm(h) : h;
}

torch::Tensor TextTransformer::token_mask(const torch::Tensor& ids) {
  if (config().pad_id < 0) return {};
  return ids.ne(config().pad_id);  // (B, T)
}

torch::Tensor TextTransformer::block(int64_t layer, const torch::Tensor& h,
                                     const torch::Tensor& mask) {
  LW_CHECK(layer >= 1 && layer <= n_layers(), config().arch, " block ", layer, " is outside 1..",
           n_layers());
  return blocks[layer - 1]->as<TransformerBlock>()->forward(h, mask);
}

namespace {

void init_text_weights(TextTransformer& model) {
  init_transformer_weights(model);
  truncated_normal_(model.tok_embed->weight, 0.02);
  truncated_normal_(model.pos_embed, 0.02);
  if (model.type_embed) truncated_normal_(model.type_embed->weight, 0.02);
}

}  // namespace

TextEncoderImpl::TextEncoderImpl(const ModelConfig& config) : TextTransformer(config) {
  register_heads();
  init_text_weights(*this);
}

torch::Tensor TextEncoderImpl::pool(const torch::Tensor& h, const torch::Tensor& mask) {
  if (config().pool == Pooling::cls) return h.select(1, 0);  // (B, D)
  return masked_mean(h, mask);
}

TextDecoderImpl::TextDecoderImpl(const ModelConfig& config) : TextTransformer(config) {
  register_heads(config.tie_embeddings ? tok_embed->weight : torch::Tensor());
  init_text_weights(*this);
}

torch::Tensor TextDecoderImpl::pool(const torch::Tensor& h, const torch::Tensor&) {
  return h;  // (B, T, D): the head reads every position
}

}  // namespace layerwise::model
