// Text transformers on the model interface: an encoder that classifies a sequence and a decoder
// that predicts the next token at every position.
//
// Inputs are token ids (B, T) int64, right-padded with the config's pad_id (kPadToken for the
// project's tokenizers); token_mask() is ids != pad_id and hides padded keys from attention, so
// padding never changes the output at real positions. pad_id -1 (imported GPT-2, which has no
// padding token) masks nothing: causal attention already keeps right padding out of real positions.
//
// Parameter names:
//   tok_embed.weight (V, D)  pos_embed (1, max_len, D)  type_embed.weight (types, D) (BERT)
//   embed_norm.* (BERT)  blocks.<i>.* (see block.h)  final_norm.* or pooler.*
//   classifier.* (absent for a decoder with tied embeddings)  exit_heads.*
#pragma once

#include <torch/torch.h>

#include "layerwise/model/layered_model.h"

namespace layerwise::model {

/// The padding id of every tokenizer of the project (data/tokenizer.h's kPadId).
inline constexpr int64_t kPadToken = 0;

/// Mean over the real tokens: (B, T, D) with mask (B, T) bool -> (B, D); undefined mask: all real.
torch::Tensor masked_mean(const torch::Tensor& h, const torch::Tensor& mask);

/// Token and learned position embeddings, and the blocks, shared by both text models.
class TextTransformer : public LayeredModel {
 public:
  explicit TextTransformer(const ModelConfig& config);

  torch::Tensor embed(const torch::Tensor& ids) override;  // (B, T) -> (B, T, D), segment 0
  /// BERT's sentence pairs: token types (B, T) int64 in [0, type_vocab_size); undefined: all 0.
  torch::Tensor embed_tokens(const torch::Tensor& ids, const torch::Tensor& types);
  torch::Tensor token_mask(const torch::Tensor& ids) override;  // (B, T) bool
  torch::Tensor block(int64_t layer, const torch::Tensor& h,
                      const torch::Tensor& mask = {}) override;  // (B, T, D) -> (B, T, D)

  torch::nn::Embedding tok_embed{nullptr};
  torch::Tensor pos_embed;
  torch::nn::Embedding type_embed{nullptr};  // type_vocab_size > 0 only
  torch::nn::LayerNorm embed_norm{nullptr};  // embed_norm only
  torch::nn::ModuleList blocks{nullptr};
};

/// BERT-like classifier: pooling reads position 0 (the <cls> token the data puts first) or the mean
/// over real tokens.
class TextEncoderImpl : public TextTransformer {
 public:
  explicit TextEncoderImpl(const ModelConfig& config);
  torch::Tensor pool(const torch::Tensor& h, const torch::Tensor& mask = {}) override;  // (B, D)
};
TORCH_MODULE(TextEncoder);

/// GPT-like language model: causal blocks, the head applied at every position; its output
/// projection is the token embedding when tie_embeddings is set.
class TextDecoderImpl : public TextTransformer {
 public:
  explicit TextDecoderImpl(const ModelConfig& config);
  torch::Tensor pool(const torch::Tensor& h, const torch::Tensor& mask = {}) override;  // (B, T, D)
  bool per_token() const override { return true; }
};
TORCH_MODULE(TextDecoder);

}  // namespace layerwise::model
