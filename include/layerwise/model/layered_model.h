// The one model interface of layerwise: hidden states after every layer, and classifier heads that
// can be applied to any of them.
//
// hidden[0] is the embedding output, hidden[l] the output of block l (l = 1..L). Text inputs carry
// padding: token_mask(input) marks the real positions, and block() and pool() take that mask
// (undefined for images: every position is real). pool() turns a hidden state into the
// representation the classifier reads (ViT: the class token; a decoder: every position), and head()
// is classifier(final_norm(.)) — the last layer's classifier — which the aligned objective, the
// layer-wise evaluation and the early-exit runner apply to every layer. Models built with
// HeadMode::per_layer also carry a separate head (own norm + linear) for each layer 1..L-1, the
// multi-exit baseline; head_at(z, l) selects it.
//
// BERT's classifier reads tanh(pooler(z)) instead of final_norm(z) (config head_input "pooler"):
// head() is then classifier(tanh(pooler(.))), the same role.
//
// Parameter names shared by every model: final_norm.* (or pooler.*), classifier.*,
// exit_heads.<l-1>.norm.*, exit_heads.<l-1>.fc.* (per_layer only).
#pragma once

#include <memory>
#include <vector>

#include <torch/torch.h>

#include "layerwise/model/config.h"

namespace layerwise::model {

/// Label of positions that per-token models do not score (padding, the end of a window); the
/// cross-entropy's ignore_index.
inline constexpr int64_t kIgnoreLabel = -100;

/// A separate classifier for one layer: fc(norm(z)).
class ExitHeadImpl : public torch::nn::Module {
 public:
  ExitHeadImpl(int64_t d_model, int64_t n_classes, double ln_eps);
  torch::Tensor forward(const torch::Tensor& z);  // (..., D) -> (..., C)

  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(ExitHead);

class LayeredModel : public torch::nn::Module {
 public:
  explicit LayeredModel(const ModelConfig& config);

  const ModelConfig& config() const { return config_; }
  int64_t n_layers() const { return config_.n_layers; }

  /// The input embedded: hidden[0].
  virtual torch::Tensor embed(const torch::Tensor& input) = 0;
  /// Which token positions of `input` are real: (B, T) bool, or undefined when all are (images).
  virtual torch::Tensor token_mask(const torch::Tensor& /*input*/) { return {}; }
  /// Block `layer` (1..L) applied to hidden[layer - 1]; mask from token_mask().
  virtual torch::Tensor block(int64_t layer, const torch::Tensor& h,
                              const torch::Tensor& mask = {}) = 0;
  /// The representation a classifier reads from a hidden state: (B, T, D) -> (B, D), or
  /// (B, T, D) for per-token models (decoders; see per_token()).
  virtual torch::Tensor pool(const torch::Tensor& h, const torch::Tensor& mask = {}) = 0;
  /// True when the head reads every position (next-token prediction) rather than one per sample.
  virtual bool per_token() const { return false; }

  /// hidden[0..up_to] (up_to = -1: all L + 1), computing only the blocks needed.
  std::vector<torch::Tensor> forward_layers(const torch::Tensor& input, int64_t up_to = -1);

  /// The last layer's classifier: classifier(final_norm(z)), or classifier(tanh(pooler(z))).
  /// (..., D) -> (..., C)
  torch::Tensor head(const torch::Tensor& z);
  /// Layer `layer`'s own classifier (per_layer models; layer L and shared models: head(z)).
  torch::Tensor head_at(const torch::Tensor& z, int64_t layer);

  /// Logits of the last layer: head(pool(hidden[L])).
  torch::Tensor forward(const torch::Tensor& input);

  torch::nn::LayerNorm final_norm{nullptr};   // null when head_input is "pooler"
  torch::nn::Linear pooler{nullptr};          // head_input "pooler" only
  torch::nn::Linear classifier{nullptr};      // null when tied: see output_weight()
  torch::nn::ModuleList exit_heads{nullptr};  // per_layer: L - 1 ExitHeads; shared: empty

 protected:
  /// Registers the heads; derived constructors call it after their own modules so that parameter
  /// order follows the data flow. tied_weight (C, D), if given, is the classifier's weight (a
  /// decoder's token embedding): no classifier module is made and head() has no bias.
  void register_heads(const torch::Tensor& tied_weight = {});

 private:
  ModelConfig config_;
  torch::Tensor tied_weight_;
};

using ModelPtr = std::shared_ptr<LayeredModel>;

/// Builds the model `config` describes, with freshly initialized weights (seed them with
/// torch::manual_seed before calling).
ModelPtr make_model(const ModelConfig& config);

/// Number of parameters (elements).
int64_t count_parameters(torch::nn::Module& module);

}  // namespace layerwise::model
