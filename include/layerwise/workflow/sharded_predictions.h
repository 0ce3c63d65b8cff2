// Layer-wise predictions over the ranks of a job: each rank predicts its share of the samples and
// every rank gets all of them back, in sample order (what one process's predict_layers returns).
#pragma once

#include "layerwise/distributed/communicator.h"
#include "layerwise/inference/predict.h"

namespace layerwise::workflow {

/// inference::predict_layers on this rank's share of `inputs` / `labels`
/// (distributed::shard_range), gathered over the ranks of `comm`; with comm null, predict_layers
/// itself.
analysis::LayerPredictions predict_layers_sharded(model::LayeredModel& model,
                                                  const data::Inputs& inputs,
                                                  const torch::Tensor& labels,
                                                  inference::HeadChoice heads,
                                                  const inference::InferenceOptions& options,
                                                  distributed::Communicator* comm);

}  // namespace layerwise::workflow
