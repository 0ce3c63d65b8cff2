// Similarity of one model's layers whose samples are shared out over the ranks of a job: the
// measures that are formulas on sums over samples (analysis/similarity_sums.h) all-reduce those
// sums, so no rank holds another's hidden states.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "layerwise/analysis/layers.h"
#include "layerwise/distributed/communicator.h"

namespace layerwise::workflow {

/// [begin, end) of this rank's share of `n` samples: whole minibatches of cka_minibatch
/// (analysis::minibatch_ranges) when it is among `metrics`, so that every batch is one that a
/// single process takes; an even split (distributed::shard_range) otherwise. Throws when a rank
/// would get nothing.
std::pair<int64_t, int64_t> similarity_shard(int64_t n, const std::vector<std::string>& metrics,
                                             int64_t minibatch, int rank, int world_size);

/// The summable measures among `metrics` for the layers whose samples the ranks hold as `shard`
/// (on the group's device): two all-reduces (the column sums that give the means, then the sums
/// of analysis::similarity_sums), finished on rank 0: name -> float64 (L, L) on the CPU there,
/// an empty map on the other ranks. `seconds`: the time of each measure's sums on this rank
/// (the all-reduces not counted).
std::map<std::string, torch::Tensor> reduced_similarity(distributed::Communicator& comm,
                                                        const analysis::Layers& shard,
                                                        const std::vector<std::string>& metrics,
                                                        int64_t minibatch,
                                                        std::map<std::string, double>* seconds);

}  // namespace layerwise::workflow
