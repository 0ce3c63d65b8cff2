// Model configuration: every option that rebuilds a model, as plain structs with JSON round trips.
//
// Block options are configuration rather than separate code (pre- or post-LayerNorm, GELU variant,
// LayerNorm epsilon, causal attention) so that the text models and imported checkpoints (ViT/DeiT,
// BERT, GPT-2) reuse the same block.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerwise/core/config_fields.h"

namespace layerwise::model {

enum class Arch { vit, text_encoder, text_decoder };
enum class Gelu { exact, tanh };        // erf GELU, or GPT-2's tanh approximation
enum class Pooling { cls, mean };       // what the head reads: the first token, or the mean
enum class HeadInput { norm, pooler };  // classifier(final_norm(z)), or BERT's tanh(pooler(z))

/// One transformer block: attention then MLP, each with a residual connection.
struct BlockConfig {
  int64_t d_model = 192;    // width of the residual stream
  int64_t n_heads = 3;      // attention heads; d_model must be a multiple
  int64_t d_ff = 768;       // hidden width of the MLP
  double ln_eps = 1e-6;     // LayerNorm epsilon (timm ViT 1e-6, BERT 1e-12, GPT-2 1e-5)
  bool pre_norm = true;     // true: x + f(norm(x)) (ViT, GPT-2); false: norm(x + f(x)) (BERT)
  Gelu gelu = Gelu::exact;  // exact (erf) or tanh (GPT-2's approximation)
  bool causal = false;      // decoder: each position attends to itself and earlier ones only
  double dropout = 0.0;     // residual dropout on the attention and MLP outputs while training
};

/// Which classifiers the model carries.
///   shared:    one head (final_norm + classifier), applied to any layer (standard and aligned)
///   per_layer: a separate head (own norm + linear) after every layer 1..L-1, plus the final head
///              for layer L (the multi-exit baseline)
enum class HeadMode { shared, per_layer };

/// Every model of the project: the architecture family and its sizes. Fields of other families
/// are ignored (and kept at their defaults in config files).
///   vit           a vision transformer over square images cut into square patches, class token
///                 (pool "cls") or the mean of the patch tokens (pool "mean") read by the head
///   text_encoder  token + position embeddings, bidirectional blocks, class-token or mean pooling
///   text_decoder  causal blocks; the head predicts the next token at every position
/// The options marked "imported" make the exact layouts of Hugging Face checkpoints (DeiT's
/// distillation token, BERT's embedding LayerNorm, token types and pooler) expressible; models
/// trained here leave them off unless a preset (bert-*) sets them.
struct ModelConfig {
  Arch arch = Arch::vit;
  int64_t n_layers = 6;  // transformer blocks L
  BlockConfig block;
  int64_t n_classes = 10;  // classes; text_decoder: = vocab_size (the head predicts tokens)
  HeadMode heads = HeadMode::shared;
  HeadInput head_input = HeadInput::norm;  // what the classifier reads: norm final_norm(z), or
                                           // pooler tanh(pooler(z)) (BERT; no final_norm)
  // vit
  int64_t image_size = 28;  // input height = width
  int64_t patch_size = 4;   // patch height = width; divides image_size
  int64_t in_channels = 1;
  bool distill_token = false;  // imported (DeiT): a second learned token after the class token
  // text_encoder, text_decoder
  int64_t vocab_size = 0;       // token ids 0..vocab_size-1; 0 until a tokenizer sets it
  int64_t max_len = 256;        // longest sequence (learned position embeddings)
  Pooling pool = Pooling::cls;  // cls (position 0) or mean (over patches / real tokens)
  bool tie_embeddings = false;  // text_decoder: the output projection is the token embedding
  int64_t pad_id = 0;           // the padding id hidden from attention; -1: none (GPT-2)
  bool embed_norm = false;      // BERT: LayerNorm over the summed embeddings
  int64_t type_vocab_size = 0;  // BERT: token-type (segment) embeddings; 0: none

  bool is_text() const { return arch != Arch::vit; }
  int64_t n_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
  /// Tokens before the patches: the class token, and DeiT's distillation token.
  int64_t n_prefix_tokens() const { return distill_token ? 2 : 1; }
};

/// Throws layerwise::Error naming the setting that is out of range (model.d_model, ...).
void validate(const ModelConfig& config);

/// Named ViT sizes for Fashion-MNIST (28 x 28, 1 channel, 10 classes):
///   tiny   L=2,  d=32,  2 heads, patch 7   (tests: trains in seconds)
///   small  L=6,  d=96,  3 heads, patch 7   (the CPU demo: ~2 min per epoch on 2 cores)
///   medium L=12, d=384, 6 heads, patch 4   (GPU runs; DeiT-S width)
///   base   L=12, d=768, 12 heads, patch 4  (GPU runs; ViT-B width)
ModelConfig vit_preset(const std::string& name);
std::vector<std::string> vit_preset_names();

// clang-format off
/// Named text model sizes (vocab_size and, for encoders, n_classes are set from the data):
///   encoder-tiny   L=2,  d=32,  2 heads, 64 tokens     decoder-tiny   L=2,  d=32,  2 heads, 32 tokens
///   encoder-small  L=6,  d=128, 4 heads, 256 tokens    decoder-small  L=6,  d=128, 4 heads, 128 tokens
///   encoder-base   L=12, d=384, 6 heads, 512 tokens    decoder-base   L=12, d=384, 6 heads, 256 tokens
// clang-format on
/// Pre-LN blocks with LayerNorm eps 1e-5; decoders use GPT-2's tanh GELU.
/// bert-{tiny,small,base}: the encoder sizes in BERT's form (post-LN, eps 1e-12, embedding
/// LayerNorm, 2 token types, tanh pooler before the classifier), which exports to
/// BertForSequenceClassification.
ModelConfig text_preset(const std::string& name);

/// Any preset above by name (ViT names: tiny, small, medium, base).
ModelConfig model_preset(const std::string& name);
std::vector<std::string> model_preset_names();

/// The settings of a model, described once (core/config_fields.h). In JSON the block's fields sit
/// beside the model's, as config.json has always held them.
template <typename C, typename Field, enable_for<C, ModelConfig> = 0>
void visit_fields(C& c, Field&& field) {
  auto& b = c.block;
  field("arch", c.arch);
  field("n_layers", c.n_layers, at_least(1));
  field("d_model", b.d_model, at_least(1));
  field("n_heads", b.n_heads, at_least(1));
  field("d_ff", b.d_ff, at_least(1));
  field("ln_eps", b.ln_eps, above(0));
  field("pre_norm", b.pre_norm);
  field("gelu", b.gelu);
  field("causal", b.causal);
  field("dropout", b.dropout, in_range(0, 1));
  field("n_classes", c.n_classes, at_least(2));
  field("heads", c.heads);
  field("head_input", c.head_input);
  field("image_size", c.image_size, at_least(1));
  field("patch_size", c.patch_size, at_least(1));
  field("in_channels", c.in_channels, at_least(1));
  field("distill_token", c.distill_token);
  field("vocab_size", c.vocab_size, at_least(0));
  field("max_len", c.max_len, at_least(2));
  field("pool", c.pool);
  field("tie_embeddings", c.tie_embeddings);
  field("pad_id", c.pad_id, at_least(-1));
  field("embed_norm", c.embed_norm);
  field("type_vocab_size", c.type_vocab_size, at_least(0));
}

nlohmann::json to_json(const ModelConfig& config);
/// Reads what to_json wrote; missing fields keep their defaults, unknown ones are refused.
ModelConfig model_config_from_json(const nlohmann::json& json);

}  // namespace layerwise::model

namespace layerwise {
template <>
struct EnumNames<model::Arch> {
  static constexpr std::pair<model::Arch, const char*> values[] = {
      {model::Arch::vit, "vit"},
      {model::Arch::text_encoder, "text_encoder"},
      {model::Arch::text_decoder, "text_decoder"}};
};
template <>
struct EnumNames<model::Gelu> {
  static constexpr std::pair<model::Gelu, const char*> values[] = {{model::Gelu::exact, "exact"},
                                                                   {model::Gelu::tanh, "tanh"}};
};
template <>
struct EnumNames<model::Pooling> {
  static constexpr std::pair<model::Pooling, const char*> values[] = {
      {model::Pooling::cls, "cls"}, {model::Pooling::mean, "mean"}};
};
template <>
struct EnumNames<model::HeadInput> {
  static constexpr std::pair<model::HeadInput, const char*> values[] = {
      {model::HeadInput::norm, "norm"}, {model::HeadInput::pooler, "pooler"}};
};
template <>
struct EnumNames<model::HeadMode> {
  static constexpr std::pair<model::HeadMode, const char*> values[] = {
      {model::HeadMode::shared, "shared"}, {model::HeadMode::per_layer, "per_layer"}};
};
}  // namespace layerwise
