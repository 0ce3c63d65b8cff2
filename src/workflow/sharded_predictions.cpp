#include "layerwise/workflow/sharded_predictions.h"

#include "layerwise/core/error.h"
#include "layerwise/distributed/shard.h"

namespace layerwise::workflow {

analysis::LayerPredictions predict_layers_sharded(model::LayeredModel& model,
                                                  const data::Inputs& inputs,
                                                  const torch::Tensor& labels,
                                                  inference::HeadChoice heads,
                                                  const inference::InferenceOptions& options,
                                                  distributed::Communicator* comm) {
  if (!comm) return inference::predict_layers(model, inputs, labels, heads, options);
  // Checked on the counts, not this rank's share: every rank stops alike, none waits.
  LW_CHECK(inputs.size() >= comm->world_size(), "evaluation: ", inputs.size(), " samples for ",
           comm->world_size(), " ranks; every rank needs at least one");
  const auto [begin, end] =
      distributed::shard_range(inputs.size(), comm->rank(), comm->world_size());
  const auto mine = inference::predict_layers(model, inputs.slice(begin, end),
                                              labels.slice(0, begin, end), heads, options);
  auto gather = [&](const torch::Tensor& part, int64_t dim) {
    return distributed::gather_along(*comm, part, dim);
  };
  return {gather(mine.predictions, 1), gather(mine.confidence, 1),  gather(mine.entropy, 1),
          gather(mine.loss, 1),        gather(mine.cos_to_last, 1), gather(mine.labels, 0)};
}

}  // namespace layerwise::workflow
