// Reading a trained model layer by layer, as statistics of what its classifier says after every
// layer (inference/predict.h computes the per-sample values; these are functions of them).
//
// For every sample and layer l = 1..L: the top-1 class and its softmax probability under the
// classifier applied to pool(h_l), the cross-entropy, and the cosine between pool(h_l) and
// pool(h_L). From these: layer-wise accuracy, saturation layer per sample (the earliest layer from
// which the top-1 prediction no longer changes), minimal depth (the first layer within a tolerance
// of the final accuracy).
#pragma once

#include <torch/torch.h>
#include <nlohmann/json.hpp>

namespace layerwise::analysis {

/// Per-layer, per-sample outputs of the classifier(s) on a dataset, on the CPU.
struct LayerPredictions {
  torch::Tensor predictions;  // (L, N) int64 top-1 class
  torch::Tensor confidence;   // (L, N) float32 top-1 softmax probability
  torch::Tensor entropy;      // (L, N) float32 softmax entropy / log(C), in [0, 1]
  torch::Tensor loss;         // (L, N) float32 cross-entropy
  torch::Tensor cos_to_last;  // (L, N) float32 cosine of pool(h_l) and pool(h_L)
  torch::Tensor labels;       // (N) int64
};

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

}  // namespace layerwise::analysis
