#include "layerwise/model/config.h"

#include "layerwise/core/error.h"

namespace layerwise::model {

void validate(const ModelConfig& c) {
  check_fields(c, "model");
  const auto& b = c.block;
  LW_CHECK(b.d_model % b.n_heads == 0, "model.d_model must be a multiple of model.n_heads, got ",
           b.d_model, " and ", b.n_heads);
  if (c.is_text()) {
    LW_CHECK(c.vocab_size >= 5, "model.vocab_size must be >= 5 (specials + bytes), got ",
             c.vocab_size);
    LW_CHECK(c.arch == Arch::text_encoder || c.n_classes == c.vocab_size,
             "a text_decoder predicts tokens: model.n_classes must equal model.vocab_size, got ",
             c.n_classes, " and ", c.vocab_size);
    LW_CHECK(c.arch == Arch::text_decoder || !c.tie_embeddings,
             "model.tie_embeddings is for text_decoder models");
    LW_CHECK(c.arch == Arch::text_decoder || !c.block.causal,
             "a text_encoder is bidirectional: model.causal must be false");
    LW_CHECK(c.pad_id < c.vocab_size, "model.pad_id must be -1 (none) or a token id below ",
             "model.vocab_size, got ", c.pad_id, " with a vocabulary of ", c.vocab_size);
    LW_CHECK(!c.distill_token, "model.distill_token is for vit models");
    return;
  }
  LW_CHECK(c.image_size % c.patch_size == 0, "model.patch_size must divide model.image_size, got ",
           c.patch_size, " and ", c.image_size);
  LW_CHECK(!c.embed_norm && c.type_vocab_size == 0,
           "model.embed_norm and model.type_vocab_size are for text models");
}

ModelConfig vit_preset(const std::string& name) {
  ModelConfig c;
  auto set = [&c](int64_t layers, int64_t d, int64_t heads, int64_t patch) {
    c.n_layers = layers;
    c.block.d_model = d;
    c.block.n_heads = heads;
    c.block.d_ff = 4 * d;
    c.patch_size = patch;
  };
  if (name == "tiny")
    set(2, 32, 2, 7);
  else if (name == "small")
    set(6, 96, 3, 7);
  else if (name == "medium")
    set(12, 384, 6, 4);
  else if (name == "base")
    set(12, 768, 12, 4);
  else
    throw Error(str_cat("unknown model preset '", name, "'; use tiny, small, medium or base"));
  return c;
}

std::vector<std::string> vit_preset_names() {
  return {"tiny", "small", "medium", "base"};
}

ModelConfig text_preset(const std::string& name) {
  ModelConfig c;
  const bool decoder = name.rfind("decoder-", 0) == 0, bert = name.rfind("bert-", 0) == 0;
  LW_CHECK(decoder || bert || name.rfind("encoder-", 0) == 0, "unknown text preset '", name, "'");
  c.arch = decoder ? Arch::text_decoder : Arch::text_encoder;
  c.block.causal = decoder;
  c.block.gelu = decoder ? Gelu::tanh : Gelu::exact;
  c.block.ln_eps = 1e-5;
  auto set = [&c, decoder](int64_t layers, int64_t d, int64_t heads, int64_t encoder_len) {
    c.n_layers = layers;
    c.block.d_model = d;
    c.block.n_heads = heads;
    c.block.d_ff = 4 * d;
    c.max_len = decoder ? encoder_len / 2 : encoder_len;
  };
  const std::string size = name.substr(name.find('-') + 1);
  if (size == "tiny")
    set(2, 32, 2, 64);
  else if (size == "small")
    set(6, 128, 4, 256);
  else if (size == "base")
    set(12, 384, 6, 512);
  else
    throw Error(str_cat("unknown text preset '", name, "'"));
  if (bert) {  // BERT's form: post-LN blocks, normalized embeddings, segments, tanh pooler
    c.block.pre_norm = false;
    c.block.ln_eps = 1e-12;
    c.embed_norm = true;
    c.type_vocab_size = 2;
    c.head_input = HeadInput::pooler;
  }
  return c;
}

ModelConfig model_preset(const std::string& name) {
  for (const auto& vit : vit_preset_names())
    if (name == vit) return vit_preset(name);
  for (const auto& text : model_preset_names())
    if (name == text) return text_preset(name);
  throw Error(str_cat("unknown model preset '", name, "'; use one of: tiny, small, medium, base, ",
                      "encoder-{tiny,small,base}, bert-{tiny,small,base}, ",
                      "decoder-{tiny,small,base}"));
}

std::vector<std::string> model_preset_names() {
  return {"tiny",          "small",         "medium",      "base",       "encoder-tiny",
          "encoder-small", "encoder-base",  "bert-tiny",   "bert-small", "bert-base",
          "decoder-tiny",  "decoder-small", "decoder-base"};
}

nlohmann::json to_json(const ModelConfig& c) {
  return fields_to_json(c);
}

ModelConfig model_config_from_json(const nlohmann::json& j) {
  ModelConfig c;
  fields_from_json(c, j, "model");
  validate(c);
  return c;
}

}  // namespace layerwise::model
