#include "layerwise/distributed/gradients.h"

namespace layerwise::distributed {

void all_reduce_gradients(Communicator& comm, const std::vector<torch::Tensor>& params,
                          int64_t bucket_bytes) {
  if (params.empty()) return;
  std::vector<std::vector<torch::Tensor>> buckets(1);  // the gradients of each bucket
  int64_t filled = 0;
  for (const auto& p : params) {
    auto grad = p.mutable_grad();
    if (!grad.defined()) grad = p.mutable_grad() = torch::zeros_like(p);
    const int64_t bytes = grad.numel() * int64_t(grad.element_size());
    const bool same_kind =
        buckets.back().empty() || buckets.back().front().scalar_type() == grad.scalar_type();
    if (!buckets.back().empty() && (filled + bytes > bucket_bytes || !same_kind)) {
      buckets.emplace_back();
      filled = 0;
    }
    buckets.back().push_back(grad);
    filled += bytes;
  }
  std::vector<torch::Tensor> flat;
  for (const auto& bucket : buckets) {
    std::vector<torch::Tensor> pieces;
    for (const auto& g : bucket) pieces.push_back(g.reshape({-1}));
    flat.push_back(torch::cat(pieces));  // (sum of numels)
  }
  comm.all_reduce_sum(flat);
  for (size_t b = 0; b < buckets.size(); ++b) {
    int64_t offset = 0;
    for (auto& g : buckets[b]) {
      g.copy_(flat[b].slice(0, offset, offset + g.numel()).view_as(g));
      offset += g.numel();
    }
  }
}

}  // namespace layerwise::distributed
