#include "layerwise/model/hf_config.h"

#include <limits>
#include <map>
#include <type_traits>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"

namespace layerwise::model {

namespace {

using Json = nlohmann::json;

struct Architecture {
  const char* name;
  HfFamily family;
  bool has_classifier;
};

// Every architecture we import; GPT-2's language-model head is its tied token embedding, so a bare
// GPT2Model has it too.
constexpr Architecture kArchitectures[] = {
    {"ViTForImageClassification", HfFamily::vit, true},
    {"ViTModel", HfFamily::vit, false},
    {"DeiTForImageClassification", HfFamily::deit, true},
    {"DeiTModel", HfFamily::deit, false},
    {"BertForSequenceClassification", HfFamily::bert, true},
    {"BertModel", HfFamily::bert, false},
    {"BertForMaskedLM", HfFamily::bert, false},
    {"BertForPreTraining", HfFamily::bert, false},
    {"GPT2LMHeadModel", HfFamily::gpt2, true},
    {"GPT2Model", HfFamily::gpt2, true},
};

std::string supported_list() {
  std::string list;
  for (const auto& a : kArchitectures) list += (list.empty() ? "" : ", ") + std::string(a.name);
  return list;
}

bool is_int64(const Json& value) {
  return value.is_number_integer() &&
         (!value.is_number_unsigned() ||
          value.get<uint64_t>() <= uint64_t(std::numeric_limits<int64_t>::max()));
}

// Reads one field with a clear error: missing (when required) or of the wrong type.
class Fields {
 public:
  Fields(const Json& json, std::string source) : json_(json), source_(std::move(source)) {}

  template <typename T>
  T get(const std::string& key) const {
    LW_CHECK(json_.contains(key) && !json_[key].is_null(), source_, ": missing field '", key, "'");
    return as<T>(key);
  }
  template <typename T>
  T get(const std::string& key, const T& fallback) const {
    return json_.contains(key) && !json_[key].is_null() ? as<T>(key) : fallback;
  }
  bool has(const std::string& key) const { return json_.contains(key) && !json_[key].is_null(); }
  const std::string& source() const { return source_; }

 private:
  template <typename T>
  T as(const std::string& key) const {
    // Sizes and ids must be JSON integers that fit: converting 1e300 to int64_t is undefined.
    if constexpr (std::is_same_v<T, int64_t>)
      LW_CHECK(is_int64(json_[key]), source_, ": field '", key, "' must be an integer, got ",
               json_[key].dump());
    try {
      return json_[key].get<T>();
    } catch (const Json::exception&) {
      throw Error(
          str_cat(source_, ": field '", key, "' has an unexpected value ", json_[key].dump()));
    }
  }
  const Json& json_;
  std::string source_;
};

Gelu gelu_of(const Fields& f, const std::string& key) {
  const auto act = f.get<std::string>(key);
  if (act == "gelu") return Gelu::exact;
  if (act == "gelu_new" || act == "gelu_pytorch_tanh") return Gelu::tanh;
  throw Error(str_cat(f.source(), ": ", key, " '", act,
                      "' is not supported; layerwise computes gelu, gelu_new and "
                      "gelu_pytorch_tanh"));
}

// id2label in id order; empty when absent.
std::vector<std::string> class_names_of(const Fields& f, const Json& json) {
  std::vector<std::string> names;
  if (!f.has("id2label")) return names;
  const auto& map = json["id2label"];
  LW_CHECK(map.is_object(), f.source(), ": id2label must be an object");
  names.resize(map.size());
  for (const auto& item : map.items()) {
    size_t id = 0;
    try {
      id = std::stoul(item.key());
    } catch (const std::exception&) {
      throw Error(str_cat(f.source(), ": id2label key '", item.key(), "' is not an id"));
    }
    LW_CHECK(id < names.size() && item.value().is_string(), f.source(),
             ": id2label must map the ids 0..", names.size() - 1, " to names");
    names[id] = item.value().get<std::string>();
  }
  return names;
}

// An integer, or [n, n] (json[key] only once f.has(key): a const json has no missing keys).
int64_t square_size(const Fields& f, const Json& json, const std::string& key) {
  if (f.has(key) && json[key].is_array()) {
    const auto& value = json[key];
    LW_CHECK(value.size() == 2 && value[0] == value[1] && is_int64(value[0]), f.source(), ": ", key,
             " must be an integer or a square [n, n] of integers, got ", value.dump());
    return value[0].get<int64_t>();
  }
  return f.get<int64_t>(key);
}

// The block fields ViT and DeiT share with BERT (their configs descend from BertConfig).
void read_bert_style_sizes(const Fields& f, ModelConfig& m) {
  m.block.d_model = f.get<int64_t>("hidden_size");
  m.n_layers = f.get<int64_t>("num_hidden_layers");
  m.block.n_heads = f.get<int64_t>("num_attention_heads");
  m.block.d_ff = f.get<int64_t>("intermediate_size");
  m.block.ln_eps = f.get<double>("layer_norm_eps", 1e-12);
  m.block.gelu = gelu_of(f, "hidden_act");
  m.block.dropout = f.get<double>("hidden_dropout_prob", 0.0);
}

void read_vision(const Fields& f, const Json& json, HfConfig& out) {
  auto& m = out.model;
  m.arch = Arch::vit;
  read_bert_style_sizes(f, m);
  m.block.pre_norm = true;
  m.image_size = square_size(f, json, "image_size");
  m.patch_size = square_size(f, json, "patch_size");
  m.in_channels = f.get<int64_t>("num_channels", 3);
  m.distill_token = out.family == HfFamily::deit;
  LW_CHECK(f.get<bool>("qkv_bias", true), f.source(),
           ": qkv_bias false is not supported (layerwise's attention has biases)");
}

void read_bert(const Fields& f, HfConfig& out) {
  auto& m = out.model;
  m.arch = Arch::text_encoder;
  m.vocab_size = f.get<int64_t>("vocab_size");
  read_bert_style_sizes(f, m);
  m.block.pre_norm = false;
  m.max_len = f.get<int64_t>("max_position_embeddings");
  m.type_vocab_size = f.get<int64_t>("type_vocab_size", 2);
  m.pad_id = f.get<int64_t>("pad_token_id", 0);
  m.embed_norm = true;
  m.head_input = HeadInput::pooler;
  m.pool = Pooling::cls;
  const auto positions = f.get<std::string>("position_embedding_type", "absolute");
  LW_CHECK(positions == "absolute", f.source(), ": position_embedding_type '", positions,
           "' is not supported (layerwise has learned absolute positions)");
  LW_CHECK(!f.get<bool>("is_decoder", false), f.source(),
           ": is_decoder true is not supported (BERT is imported as an encoder)");
}

void read_gpt2(const Fields& f, HfConfig& out) {
  auto& m = out.model;
  m.arch = Arch::text_decoder;
  m.vocab_size = f.get<int64_t>("vocab_size");
  m.n_classes = m.vocab_size;
  m.block.d_model = f.get<int64_t>("n_embd");
  m.n_layers = f.get<int64_t>("n_layer");
  m.block.n_heads = f.get<int64_t>("n_head");
  if (f.has("n_inner")) {
    m.block.d_ff = f.get<int64_t>("n_inner");
  } else {  // null or absent: 4 n_embd, which must not overflow
    constexpr int64_t kLimit = std::numeric_limits<int64_t>::max() / 4;
    LW_CHECK(m.block.d_model >= -kLimit && m.block.d_model <= kLimit, f.source(), ": n_embd ",
             m.block.d_model, " is out of range");
    m.block.d_ff = 4 * m.block.d_model;
  }
  m.block.ln_eps = f.get<double>("layer_norm_epsilon", 1e-5);
  m.block.gelu = gelu_of(f, "activation_function");
  m.block.dropout = f.get<double>("resid_pdrop", 0.0);
  m.block.causal = true;
  m.block.pre_norm = true;
  m.max_len = f.get<int64_t>("n_positions");
  m.tie_embeddings = f.get<bool>("tie_word_embeddings", true);
  // No padding mask whatever pad_token_id says (often <|endoftext|>, a real token inside
  // documents): transformers masks only what attention_mask says, and causal attention keeps right
  // padding out of real positions anyway.
  m.pad_id = -1;
  LW_CHECK(!f.get<bool>("scale_attn_by_inverse_layer_idx", false), f.source(),
           ": scale_attn_by_inverse_layer_idx true is not supported");
  LW_CHECK(f.get<bool>("scale_attn_weights", true), f.source(),
           ": scale_attn_weights false is not supported");
}

}  // namespace

std::string to_string(HfFamily family) {
  switch (family) {
    case HfFamily::vit:
      return "vit";
    case HfFamily::deit:
      return "deit";
    case HfFamily::bert:
      return "bert";
    case HfFamily::gpt2:
      return "gpt2";
  }
  return "?";
}

HfConfig hf_config_from_json(const Json& json, const std::string& source) {
  LW_CHECK(json.is_object(), source, ": expected a JSON object");
  const Fields f(json, source);
  const auto model_type = f.get<std::string>("model_type");
  std::string architecture;
  if (f.has("architectures")) {
    LW_CHECK(json["architectures"].is_array() && json["architectures"].size() == 1 &&
                 json["architectures"][0].is_string(),
             source, ": architectures must list one name, got ", json["architectures"].dump());
    architecture = json["architectures"][0].get<std::string>();
  } else {  // a bare model saved without its class name
    const std::map<std::string, std::string> bare = {
        {"vit", "ViTModel"}, {"deit", "DeiTModel"}, {"bert", "BertModel"}, {"gpt2", "GPT2Model"}};
    LW_CHECK(bare.count(model_type), source, ": model_type '", model_type,
             "' is not supported; layerwise imports vit, deit, bert and gpt2");
    architecture = bare.at(model_type);
  }
  HfConfig out;
  out.architecture = architecture;
  const Architecture* found = nullptr;
  for (const auto& a : kArchitectures)
    if (architecture == a.name) found = &a;
  LW_CHECK(found, source, ": architecture ", architecture, " is not supported; layerwise imports ",
           supported_list());
  LW_CHECK(to_string(found->family) == model_type, source, ": model_type '", model_type,
           "' does not match architecture ", architecture);
  out.family = found->family;
  out.has_classifier = found->has_classifier;
  out.class_names = class_names_of(f, json);
  if (out.family == HfFamily::gpt2)
    read_gpt2(f, out);
  else if (out.family == HfFamily::bert)
    read_bert(f, out);
  else
    read_vision(f, json, out);
  if (out.family != HfFamily::gpt2)
    out.model.n_classes =
        out.class_names.empty() ? f.get<int64_t>("num_labels", 2) : int64_t(out.class_names.size());
  try {
    validate(out.model);
  } catch (const Error& e) {
    throw Error(str_cat(source, ": ", e.what()));
  }
  return out;
}

HfConfig read_hf_config(const std::string& dir) {
  const auto path = dir + "/config.json";
  LW_CHECK(file_exists(path), dir, ": no config.json (not a Hugging Face checkpoint folder)");
  Json json;
  try {
    json = Json::parse(read_file(path));
  } catch (const Json::exception& e) {
    throw Error(str_cat(path, ": not valid JSON (", e.what(), ")"));
  }
  return hf_config_from_json(json, path);
}

bool is_hf_checkpoint_dir(const std::string& dir) {
  const auto path = dir + "/config.json";
  if (!file_exists(path)) return false;
  try {
    return Json::parse(read_file(path)).contains("model_type");
  } catch (const Json::exception&) {
    return false;
  }
}

HfFamily hf_family_for_export(const ModelConfig& c) {
  const auto& b = c.block;
  LW_CHECK(c.heads == HeadMode::shared,
           "export: a multi-head model's per-layer exit heads have no place in transformers' "
           "layouts");
  if (c.arch == Arch::vit) {
    LW_CHECK(b.pre_norm && c.head_input == HeadInput::norm && c.pool == Pooling::cls,
             "export: transformers' ViT reads the class token through the final LayerNorm of a "
             "pre-LN model; this model has pool '",
             enum_name(c.pool), "', head_input '", enum_name(c.head_input), "', pre_norm ",
             b.pre_norm);
    return c.distill_token ? HfFamily::deit : HfFamily::vit;
  }
  if (c.arch == Arch::text_encoder) {
    LW_CHECK(!b.pre_norm && c.embed_norm && c.head_input == HeadInput::pooler &&
                 c.pool == Pooling::cls && c.type_vocab_size >= 1,
             "export: text encoders export to BERT's layout, which needs BERT's form (post-LN, "
             "embedding LayerNorm, token types, tanh pooler on the first token): train with "
             "--preset bert-tiny, bert-small or bert-base");
    return HfFamily::bert;
  }
  LW_CHECK(b.pre_norm && c.head_input == HeadInput::norm && c.tie_embeddings,
           "export: text decoders export to GPT-2's layout, whose output layer is the token "
           "embedding (no bias): train with --tie-embeddings");
  return HfFamily::gpt2;
}

Json hf_config_json(const ModelConfig& c, const std::vector<std::string>& class_names,
                    int64_t bos_id, int64_t eos_id) {
  const auto family = hf_family_for_export(c);
  const auto& b = c.block;
  const std::string act = b.gelu == Gelu::tanh ? "gelu_new" : "gelu";
  Json j;
  if (family == HfFamily::gpt2) {
    j = {{"architectures", {"GPT2LMHeadModel"}},
         {"model_type", "gpt2"},
         {"vocab_size", c.vocab_size},
         {"n_positions", c.max_len},
         {"n_embd", b.d_model},
         {"n_layer", c.n_layers},
         {"n_head", b.n_heads},
         {"n_inner", b.d_ff},
         {"activation_function", act},
         {"layer_norm_epsilon", b.ln_eps},
         {"resid_pdrop", b.dropout},
         {"embd_pdrop", 0.0},
         {"attn_pdrop", 0.0},
         {"tie_word_embeddings", true},
         {"bos_token_id", bos_id},
         {"eos_token_id", eos_id},
         {"pad_token_id", c.pad_id < 0 ? Json(nullptr) : Json(c.pad_id)}};
  } else {
    Json id2label = Json::object(), label2id = Json::object();
    for (int64_t i = 0; i < c.n_classes; ++i) {
      const auto name = i < int64_t(class_names.size()) ? class_names[i] : str_cat("LABEL_", i);
      id2label[std::to_string(i)] = name;
      label2id[name] = i;
    }
    j = {{"hidden_size", b.d_model},
         {"num_hidden_layers", c.n_layers},
         {"num_attention_heads", b.n_heads},
         {"intermediate_size", b.d_ff},
         {"hidden_act", act},
         {"hidden_dropout_prob", b.dropout},
         {"attention_probs_dropout_prob", 0.0},
         {"layer_norm_eps", b.ln_eps},
         {"id2label", id2label},
         {"label2id", label2id}};
    if (family == HfFamily::bert) {
      j["architectures"] = {"BertForSequenceClassification"};
      j["model_type"] = "bert";
      j["vocab_size"] = c.vocab_size;
      j["max_position_embeddings"] = c.max_len;
      j["type_vocab_size"] = c.type_vocab_size;
      j["pad_token_id"] = c.pad_id < 0 ? 0 : c.pad_id;
      j["position_embedding_type"] = "absolute";
    } else {
      const bool deit = family == HfFamily::deit;
      j["architectures"] = {deit ? "DeiTForImageClassification" : "ViTForImageClassification"};
      j["model_type"] = deit ? "deit" : "vit";
      j["image_size"] = c.image_size;
      j["patch_size"] = c.patch_size;
      j["num_channels"] = c.in_channels;
      j["qkv_bias"] = true;
    }
  }
  j["dtype"] = "float32";
  return j;
}

}  // namespace layerwise::model
