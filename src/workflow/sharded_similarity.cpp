#include "layerwise/workflow/sharded_similarity.h"

#include <algorithm>

#include "layerwise/analysis/cka.h"
#include "layerwise/analysis/similarity_sums.h"
#include "layerwise/core/error.h"
#include "layerwise/distributed/shard.h"

namespace layerwise::workflow {

std::pair<int64_t, int64_t> similarity_shard(int64_t n, const std::vector<std::string>& metrics,
                                             int64_t minibatch, int rank, int world_size) {
  if (std::find(metrics.begin(), metrics.end(), "cka_minibatch") == metrics.end()) {
    // Checked on the counts, not this rank's share: every rank stops alike, none waits.
    LW_CHECK(n >= world_size, "similarity: ", n, " samples for ", world_size,
             " ranks; every rank needs at least one");
    return distributed::shard_range(n, rank, world_size);
  }
  const auto batches = analysis::minibatch_ranges(n, minibatch);
  LW_CHECK(int64_t(batches.size()) >= world_size, "similarity: cka_minibatch takes ", n,
           " samples in ", batches.size(), " minibatches of ", minibatch, ", fewer than the ",
           world_size, " ranks; every rank needs one (lower --minibatch or --nproc)");
  const auto [first, last] = distributed::shard_range(int64_t(batches.size()), rank, world_size);
  return {batches[size_t(first)].first, batches[size_t(last - 1)].second};
}

std::map<std::string, torch::Tensor> reduced_similarity(distributed::Communicator& comm,
                                                        const analysis::Layers& shard,
                                                        const std::vector<std::string>& metrics,
                                                        int64_t minibatch,
                                                        std::map<std::string, double>* seconds) {
  std::vector<torch::Tensor> totals{
      analysis::column_sums(shard),  // (sum D), then ()
      torch::full({}, double(shard.front().size(0)),
                  torch::TensorOptions(torch::kFloat64).device(shard.front().device()))};
  comm.all_reduce_sum(totals);
  const auto means = totals[0] / totals[1];  // (sum D) float64: of all samples
  auto sums = analysis::similarity_sums(metrics, shard, means, minibatch, seconds);
  auto reduced = sums.tensors();
  comm.all_reduce_sum(reduced);  // in place: the sums of every shard
  if (!comm.is_main()) return {};
  std::vector<int64_t> widths;
  for (const auto& x : shard) widths.push_back(x.size(1));
  return analysis::similarity_from_sums(metrics, sums, widths);
}

}  // namespace layerwise::workflow
