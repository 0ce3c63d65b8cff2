// Reading a trained model layer by layer: what the classifier says after every layer.
//
// For every sample and layer l = 1..L: the top-1 class and its softmax probability under the
// last layer's classifier applied to pool(h_l) (or, for per-layer-head models, under layer l's own
// head), the cross-entropy, and the cosine between pool(h_l) and pool(h_L). From these:
// layer-wise accuracy, saturation layer per sample (the earliest layer from which the top-1
// prediction no longer changes), minimal depth (the first layer within a tolerance of the final
// accuracy).
#pragma once

#include <string>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "layerwise/analysis/layers.h"
#include "layerwise/model/layered_model.h"

namespace layerwise::analysis {

/// Which classifier reads layer l: the last layer's (shared head) or the layer's own.
enum class HeadChoice { last, own };

/// Per-layer, per-sample outputs of the classifier(s) on a dataset, on the CPU.
struct LayerPredictions {
  torch::Tensor predictions;  // (L, N) int64 top-1 class
  torch::Tensor confidence;   // (L, N) float32 top-1 softmax probability
  torch::Tensor entropy;      // (L, N) float32 softmax entropy / log(C), in [0, 1]
  torch::Tensor loss;         // (L, N) float32 cross-entropy
  torch::Tensor cos_to_last;  // (L, N) float32 cosine of pool(h_l) and pool(h_L)
  torch::Tensor labels;       // (N) int64
};

struct EvalOptions {
  int64_t batch_size = 512;
  torch::Device device = torch::kCPU;
  bool bf16 = false;     // CUDA bf16 autocast for the forward passes
  std::string progress;  // non-empty: progress on stderr under this label (rate, time left)
};

/// Eval mode, no gradients and (with options.bf16) CUDA bf16 autocast for the lifetime of the
/// object, also when an exception leaves the scope; restores the model's training flag afterwards.
class InferenceScope {
 public:
  InferenceScope(model::LayeredModel& model, const EvalOptions& options);
  ~InferenceScope();
  InferenceScope(const InferenceScope&) = delete;
  InferenceScope& operator=(const InferenceScope&) = delete;

 private:
  model::LayeredModel& model_;
  bool was_training_, bf16_;
  torch::NoGradGuard no_grad_;
};

/// Runs `model` (in eval mode, without gradients) over `inputs` (N, ...) in batches. The inputs
/// may live on any device; batches are moved to options.device.
LayerPredictions predict_layers(model::LayeredModel& model, const torch::Tensor& inputs,
                                const torch::Tensor& labels, HeadChoice heads,
                                const EvalOptions& options);

/// Fraction of correct top-1 predictions per layer: (L) float64.
torch::Tensor layer_accuracy(const LayerPredictions& p);

/// Per sample, the earliest layer (1..L) from which the prediction equals the last layer's at
/// every later layer: (N) int64.
torch::Tensor saturation_layers(const torch::Tensor& predictions);

/// The first layer (1-based) whose accuracy is at least accuracy[L] - tolerance.
int64_t minimal_depth(const torch::Tensor& accuracy, double tolerance);

/// eval.json's layer-wise part: accuracy, final_accuracy, mean_confidence, loss, cos_to_last
/// (lists over layers 1..L), saturation_layer_histogram (count per layer 1..L),
/// mean_saturation_layer, minimal_depth, minimal_depth_tolerance, n_samples.
nlohmann::json layerwise_summary(const LayerPredictions& p, double tolerance);

/// Pooled hidden states of layers 0..L over `inputs`: L + 1 tensors (N, D) float32 on the CPU.
/// pool: "model" (the model's own: ViT and encoders as their classifier reads; decoders the mean),
/// "cls" (first token), "mean" (mean over real tokens) or "last" (last real token).
Layers extract_layers(model::LayeredModel& model, const torch::Tensor& inputs,
                      const std::string& pool, const EvalOptions& options);

}  // namespace layerwise::analysis
