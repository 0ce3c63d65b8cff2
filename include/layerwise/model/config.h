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

namespace layerwise::model {

/// One transformer block: attention then MLP, each with a residual connection.
struct BlockConfig {
  int64_t d_model = 192;       // width of the residual stream
  int64_t n_heads = 3;         // attention heads; d_model must be a multiple
  int64_t d_ff = 768;          // hidden width of the MLP
  double ln_eps = 1e-6;        // LayerNorm epsilon (timm ViT 1e-6, BERT 1e-12, GPT-2 1e-5)
  bool pre_norm = true;        // true: x + f(norm(x)) (ViT, GPT-2); false: norm(x + f(x)) (BERT)
  std::string gelu = "exact";  // "exact" (erf) or "tanh" (GPT-2's approximation)
  bool causal = false;         // decoder: each position attends to itself and earlier ones only
  double dropout = 0.0;        // residual dropout on the attention and MLP outputs while training
};

/// Which classifiers the model carries.
///   shared:    one head (final_norm + classifier), applied to any layer (standard and aligned)
///   per_layer: a separate head (own norm + linear) after every layer 1..L-1, plus the final head
///              for layer L (the multi-exit baseline)
enum class HeadMode { shared, per_layer };

/// A vision transformer over square images cut into square patches, with a class token.
struct ModelConfig {
  std::string arch = "vit";  // model family; "vit" here, text models follow
  int64_t n_layers = 6;      // transformer blocks L
  BlockConfig block;
  int64_t image_size = 28;  // input height = width
  int64_t patch_size = 4;   // patch height = width; divides image_size
  int64_t in_channels = 1;
  int64_t n_classes = 10;
  HeadMode heads = HeadMode::shared;

  int64_t n_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
};

/// Throws layerwise::Error naming the field that is out of range.
void validate(const ModelConfig& config);

/// Named ViT sizes for Fashion-MNIST (28 x 28, 1 channel, 10 classes):
///   tiny   L=2,  d=32,  2 heads, patch 7   (tests: trains in seconds)
///   small  L=6,  d=96,  3 heads, patch 7   (the CPU demo: ~2 min per epoch on 2 cores)
///   medium L=12, d=384, 6 heads, patch 4   (GPU runs; DeiT-S width)
///   base   L=12, d=768, 12 heads, patch 4  (GPU runs; ViT-B width)
ModelConfig vit_preset(const std::string& name);
std::vector<std::string> vit_preset_names();

nlohmann::json to_json(const ModelConfig& config);
/// Reads what to_json wrote; missing fields keep their defaults, unknown ones are refused.
ModelConfig model_config_from_json(const nlohmann::json& json);

std::string to_string(HeadMode mode);
HeadMode parse_head_mode(const std::string& name);

}  // namespace layerwise::model
