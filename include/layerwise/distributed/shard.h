// Samples shared out over the ranks of a job and the per-sample results gathered back, so that a
// sharded computation gives rank 0 exactly what one process computes.
#pragma once

#include <utility>

#include <torch/torch.h>

#include "layerwise/distributed/communicator.h"

namespace layerwise::distributed {

/// [begin, end) of this rank's share of `n` samples: contiguous, in rank order, sizes differing by
/// at most one (torch::tensor_split's rule).
std::pair<int64_t, int64_t> shard_range(int64_t n, int rank, int world_size);

/// Every rank's `part` concatenated along `dim` in rank order, on every rank (the parts may
/// differ in size along `dim` only). Sent as one sum of zero-padded tensors on the group's device,
/// which is exact for every dtype; returned on `part`'s device.
torch::Tensor gather_along(Communicator& comm, const torch::Tensor& part, int64_t dim);

}  // namespace layerwise::distributed
