// Batched layer-wise prediction: the classifier read after every layer of a model, for every
// sample of a dataset (analysis/layer_readout.h turns the result into accuracy, saturation and
// minimal depth).
#pragma once

#include <torch/torch.h>

#include "layerwise/analysis/layer_readout.h"
#include "layerwise/data/inputs.h"
#include "layerwise/inference/scope.h"
#include "layerwise/model/layered_model.h"

namespace layerwise::inference {

/// Runs `model` (in eval mode, without gradients) over `inputs` (N, ...) in batches and reads every
/// layer 1..L with the last layer's classifier (HeadChoice::last) or each layer's own. The inputs
/// may live on any device; batches are made on options.device, the next while the model runs. Per-token models (decoders) score
/// every labelled position: labels (N, T) with kIgnoreLabel elsewhere.
analysis::LayerPredictions predict_layers(model::LayeredModel& model, const data::Inputs& inputs,
                                          const torch::Tensor& labels, HeadChoice heads,
                                          const InferenceOptions& options);

}  // namespace layerwise::inference
