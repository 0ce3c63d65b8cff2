// Hugging Face config.json <-> ModelConfig, for the architectures layerwise imports and exports:
//   vit   ViTModel, ViTForImageClassification            (pre-LN, class token)
//   deit  DeiTModel, DeiTForImageClassification          (+ distillation token)
//   bert  BertModel, BertForSequenceClassification, BertForMaskedLM, BertForPreTraining
//         (post-LN, embedding LayerNorm, token types, tanh pooler before the classifier)
//   gpt2  GPT2Model, GPT2LMHeadModel                     (pre-LN, causal, tanh GELU, tied head)
// A setting layerwise cannot compute exactly (an unknown activation, relative positions, scaled
// attention by layer index, ...) is refused with an error naming the field.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerwise/model/config.h"

namespace layerwise::model {

enum class HfFamily { vit, deit, bert, gpt2 };

struct HfConfig {
  HfFamily family = HfFamily::vit;
  std::string architecture;     // architectures[0], e.g. "BertForSequenceClassification"
  bool has_classifier = false;  // the checkpoint holds our head's classifier (GPT-2: always, the
                                // tied token embedding)
  ModelConfig model;            // the layerwise model that computes the same function
  std::vector<std::string> class_names;  // id2label in id order (empty: none given)
};

/// Parses a transformers config.json; `source` (its path) starts the error messages.
HfConfig hf_config_from_json(const nlohmann::json& json, const std::string& source);

/// DIR/config.json.
HfConfig read_hf_config(const std::string& dir);

/// True when DIR/config.json exists and names a model_type (a Hugging Face checkpoint folder).
bool is_hf_checkpoint_dir(const std::string& dir);

/// The transformers config.json of a layerwise model, and its family; throws layerwise::Error
/// naming the setting transformers' architecture cannot express (e.g. mean pooling, pre-LN text
/// encoders, per-layer exit heads).
HfFamily hf_family_for_export(const ModelConfig& config);
/// class_names label the outputs (default LABEL_<i>); bos_id / eos_id: GPT-2's special tokens.
nlohmann::json hf_config_json(const ModelConfig& config,
                              const std::vector<std::string>& class_names, int64_t bos_id = 2,
                              int64_t eos_id = 3);

std::string to_string(HfFamily family);

}  // namespace layerwise::model
