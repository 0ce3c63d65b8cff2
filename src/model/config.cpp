#include "layerwise/model/config.h"

#include <set>

#include "layerwise/core/error.h"

namespace layerwise::model {

void validate(const ModelConfig& c) {
  LW_CHECK(c.arch == "vit" || c.is_text(), "model arch '", c.arch,
           "' is not known; use vit, text_encoder or text_decoder");
  LW_CHECK(c.n_layers >= 1, "model n_layers must be >= 1, got ", c.n_layers);
  const auto& b = c.block;
  LW_CHECK(b.d_model >= 1 && b.n_heads >= 1 && b.d_model % b.n_heads == 0, "model d_model (",
           b.d_model, ") must be a positive multiple of n_heads (", b.n_heads, ")");
  LW_CHECK(b.d_ff >= 1, "model d_ff must be >= 1, got ", b.d_ff);
  LW_CHECK(b.dropout >= 0 && b.dropout < 1, "model dropout must be in [0, 1), got ", b.dropout);
  LW_CHECK(b.ln_eps > 0, "model ln_eps must be > 0, got ", b.ln_eps);
  LW_CHECK(b.gelu == "exact" || b.gelu == "tanh", "model gelu '", b.gelu,
           "' is not known; use exact or tanh");
  LW_CHECK(c.n_classes >= 2, "model n_classes must be >= 2, got ", c.n_classes);
  LW_CHECK(c.pool == "cls" || c.pool == "mean", "model pool '", c.pool,
           "' is not known; use cls or mean");
  LW_CHECK(c.head_input == "norm" || c.head_input == "pooler", "model head_input '", c.head_input,
           "' is not known; use norm or pooler");
  if (c.is_text()) {
    LW_CHECK(c.vocab_size >= 5, "model vocab_size must be >= 5 (specials + bytes), got ",
             c.vocab_size);
    LW_CHECK(c.max_len >= 2, "model max_len must be >= 2, got ", c.max_len);
    LW_CHECK(c.arch == "text_encoder" || c.n_classes == c.vocab_size,
             "a text_decoder predicts tokens: n_classes (", c.n_classes,
             ") must equal vocab_size (", c.vocab_size, ")");
    LW_CHECK(c.arch == "text_decoder" || !c.tie_embeddings,
             "tie_embeddings is for text_decoder models");
    LW_CHECK(c.arch == "text_decoder" || !c.block.causal,
             "a text_encoder is bidirectional: causal must be false");
    LW_CHECK(c.pad_id >= -1 && c.pad_id < c.vocab_size, "model pad_id must be -1 (none) or a ",
             "token id below vocab_size (", c.vocab_size, "), got ", c.pad_id);
    LW_CHECK(c.type_vocab_size >= 0, "model type_vocab_size must be >= 0, got ", c.type_vocab_size);
    LW_CHECK(!c.distill_token, "distill_token is for vit models");
    return;
  }
  LW_CHECK(c.image_size >= 1 && c.patch_size >= 1 && c.image_size % c.patch_size == 0,
           "model patch_size (", c.patch_size, ") must divide image_size (", c.image_size, ")");
  LW_CHECK(c.in_channels >= 1, "model in_channels must be >= 1, got ", c.in_channels);
  LW_CHECK(!c.embed_norm && c.type_vocab_size == 0,
           "embed_norm and type_vocab_size are for text models");
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
  c.arch = decoder ? "text_decoder" : "text_encoder";
  c.block.causal = decoder;
  c.block.gelu = decoder ? "tanh" : "exact";
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
    c.head_input = "pooler";
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

std::string to_string(HeadMode mode) {
  return mode == HeadMode::shared ? "shared" : "per_layer";
}

HeadMode parse_head_mode(const std::string& name) {
  if (name == "shared") return HeadMode::shared;
  if (name == "per_layer") return HeadMode::per_layer;
  throw Error(str_cat("model heads '", name, "' is not known; use shared or per_layer"));
}

nlohmann::json to_json(const ModelConfig& c) {
  const auto& b = c.block;
  return {{"arch", c.arch},
          {"n_layers", c.n_layers},
          {"d_model", b.d_model},
          {"n_heads", b.n_heads},
          {"d_ff", b.d_ff},
          {"ln_eps", b.ln_eps},
          {"pre_norm", b.pre_norm},
          {"gelu", b.gelu},
          {"causal", b.causal},
          {"dropout", b.dropout},
          {"n_classes", c.n_classes},
          {"heads", to_string(c.heads)},
          {"head_input", c.head_input},
          {"image_size", c.image_size},
          {"patch_size", c.patch_size},
          {"in_channels", c.in_channels},
          {"distill_token", c.distill_token},
          {"vocab_size", c.vocab_size},
          {"max_len", c.max_len},
          {"pool", c.pool},
          {"tie_embeddings", c.tie_embeddings},
          {"pad_id", c.pad_id},
          {"embed_norm", c.embed_norm},
          {"type_vocab_size", c.type_vocab_size}};
}

ModelConfig model_config_from_json(const nlohmann::json& j) {
  LW_CHECK(j.is_object(), "model config must be a JSON object");
  const std::set<std::string> known = {
      "arch",          "n_layers",  "d_model",    "n_heads",        "d_ff",
      "ln_eps",        "pre_norm",  "gelu",       "causal",         "dropout",
      "heads",         "n_classes", "image_size", "patch_size",     "in_channels",
      "vocab_size",    "max_len",   "pool",       "tie_embeddings", "head_input",
      "distill_token", "pad_id",    "embed_norm", "type_vocab_size"};
  for (const auto& item : j.items())
    LW_CHECK(known.count(item.key()), "model config: unknown field '", item.key(), "'");
  ModelConfig c;
  auto& b = c.block;
  try {
    c.arch = j.value("arch", c.arch);
    c.n_layers = j.value("n_layers", c.n_layers);
    b.d_model = j.value("d_model", b.d_model);
    b.n_heads = j.value("n_heads", b.n_heads);
    b.d_ff = j.value("d_ff", b.d_ff);
    b.ln_eps = j.value("ln_eps", b.ln_eps);
    b.pre_norm = j.value("pre_norm", b.pre_norm);
    b.gelu = j.value("gelu", b.gelu);
    b.causal = j.value("causal", b.causal);
    b.dropout = j.value("dropout", b.dropout);
    c.image_size = j.value("image_size", c.image_size);
    c.patch_size = j.value("patch_size", c.patch_size);
    c.in_channels = j.value("in_channels", c.in_channels);
    c.n_classes = j.value("n_classes", c.n_classes);
    c.heads = parse_head_mode(j.value("heads", to_string(c.heads)));
    c.vocab_size = j.value("vocab_size", c.vocab_size);
    c.max_len = j.value("max_len", c.max_len);
    c.pool = j.value("pool", c.pool);
    c.tie_embeddings = j.value("tie_embeddings", c.tie_embeddings);
    c.head_input = j.value("head_input", c.head_input);
    c.distill_token = j.value("distill_token", c.distill_token);
    c.pad_id = j.value("pad_id", c.pad_id);
    c.embed_norm = j.value("embed_norm", c.embed_norm);
    c.type_vocab_size = j.value("type_vocab_size", c.type_vocab_size);
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat("model config: ", e.what()));
  }
  validate(c);
  return c;
}

}  // namespace layerwise::model
