// Activation extraction: a model's hidden states after every layer, one vector per sample.
#pragma once

#include <optional>
#include <string>

#include <torch/torch.h>

#include "layerwise/analysis/layers.h"
#include "layerwise/analysis/pooling.h"
#include "layerwise/data/inputs.h"
#include "layerwise/inference/scope.h"
#include "layerwise/model/layered_model.h"

namespace layerwise::inference {

/// Which token(s) represent a sample: the model's own pooling (nullopt: what its classifier reads;
/// decoders the mean over real tokens), or a pooling rule applied to the real tokens.
using LayerPool = std::optional<analysis::Pool>;

/// "model", "cls", "mean" or "last"; throws layerwise::Error naming `setting` otherwise.
LayerPool parse_layer_pool(const std::string& name, const std::string& setting);
/// "model" for nullopt, else the rule's name.
std::string layer_pool_name(const LayerPool& pool);

/// Pooled hidden states of layers 0..L over `inputs`: L + 1 tensors (N, D) float32 on the CPU.
analysis::Layers extract_layers(model::LayeredModel& model, const data::Inputs& inputs,
                                const LayerPool& pool, const InferenceOptions& options);

}  // namespace layerwise::inference
