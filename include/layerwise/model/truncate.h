// Elastic depth: the model cut after its first K blocks, as a complete model of K layers
// (`layerwise export --depth K`).
//
// The depth-K model keeps the embeddings, blocks 1..K and the head that reads layer K:
//   shared heads (standard, aligned):  the last layer's final norm and classifier, the head the
//                                      aligned objective trains on every layer, so its output is
//                                      exactly what `layerwise eval` reports for layer K
//   per-layer heads (multi-head):      layer K's own head (norm + linear) becomes the final head,
//                                      and the exit heads of layers 1..K-1 stay
#pragma once

#include <cstdint>

#include "layerwise/model/config.h"
#include "layerwise/model/layered_model.h"

namespace layerwise::model {

/// The configuration of `config`'s model cut after `depth` blocks (1..n_layers): n_layers = depth;
/// for a per-layer model cut below its last layer, the final head becomes layer `depth`'s own
/// (head_input norm, no tied output projection). Throws layerwise::Error for a depth out of range.
ModelConfig truncated_config(const ModelConfig& config, int64_t depth);

/// A new model of truncated_config(model.config(), depth) holding `model`'s weights (copies, on
/// the same device, in the same training mode).
ModelPtr truncate_model(LayeredModel& model, int64_t depth);

}  // namespace layerwise::model
