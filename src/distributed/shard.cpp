#include "layerwise/distributed/shard.h"

#include "layerwise/core/error.h"

namespace layerwise::distributed {

std::pair<int64_t, int64_t> shard_range(int64_t n, int rank, int world_size) {
  LW_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "rank ", rank, " is outside 0..",
           world_size - 1);
  const int64_t base = n / world_size, extra = n % world_size;  // the first `extra` get one more
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

torch::Tensor gather_along(Communicator& comm, const torch::Tensor& part, int64_t dim) {
  const auto on_group = torch::TensorOptions().device(comm.device());
  // Each rank's length along dim, then where each part starts.
  std::vector<torch::Tensor> sizes{
      torch::zeros({comm.world_size()}, on_group.dtype(torch::kInt64))};
  sizes[0][comm.rank()] = part.size(dim);
  comm.all_reduce_sum(sizes);
  const auto lengths = sizes[0].cpu();  // (world)
  const auto* length = lengths.data_ptr<int64_t>();
  int64_t offset = 0, total = 0;
  for (int r = 0; r < comm.world_size(); ++r) {
    if (r == comm.rank()) offset = total;
    total += length[r];
  }
  auto shape = part.sizes().vec();
  shape[dim] = total;
  // A bool part travels as uint8 (summing bools is not defined everywhere).
  const auto kind = part.scalar_type() == torch::kBool ? torch::kUInt8 : part.scalar_type();
  std::vector<torch::Tensor> full{torch::zeros(shape, on_group.dtype(kind))};
  full[0].narrow(dim, offset, part.size(dim)).copy_(part);
  comm.all_reduce_sum(full);
  return full[0].to(part.device(), part.scalar_type());
}

}  // namespace layerwise::distributed
