// Gradients summed over the ranks of a data-parallel job, in buckets.
#pragma once

#include <vector>

#include <torch/torch.h>

#include "layerwise/distributed/communicator.h"

namespace layerwise::distributed {

/// Sums the gradients of `params` over the ranks, in place: flat buckets of about `bucket_bytes`
/// (a few large messages rather than one per parameter), all started before any is awaited.
/// A parameter without a gradient gets zeros, so that every rank sends the same buckets.
void all_reduce_gradients(Communicator& comm, const std::vector<torch::Tensor>& params,
                          int64_t bucket_bytes = int64_t(25) << 20);

}  // namespace layerwise::distributed
