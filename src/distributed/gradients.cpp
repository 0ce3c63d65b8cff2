#include "layerwise/distributed/gradients.h"

#include "layerwise/core/error.h"

namespace layerwise::distributed {

GradientReducer::GradientReducer(Communicator& comm, std::vector<torch::Tensor> params,
                                 int64_t bucket_bytes)
    : comm_(comm), params_(std::move(params)) {
  slots_.resize(params_.size());
  int64_t filled = 0;
  torch::ScalarType kind = torch::kFloat32;
  std::vector<int64_t> sizes;                  // numel per bucket
  for (size_t k = params_.size(); k-- > 0;) {  // last parameters first: backward's order
    const auto& p = params_[k];
    const int64_t bytes = p.numel() * int64_t(p.element_size());
    const bool new_bucket =
        sizes.empty() || filled + bytes > bucket_bytes || p.scalar_type() != kind;
    if (new_bucket) {
      sizes.push_back(0);
      expected_.push_back(0);
      filled = 0;
      kind = p.scalar_type();
    }
    slots_[k] = {int64_t(sizes.size()) - 1, sizes.back(), p.numel()};
    sizes.back() += p.numel();
    ++expected_.back();
    filled += bytes;
  }
  for (size_t b = 0; b < sizes.size(); ++b) {
    // A bucket's dtype and device are those of its first parameter.
    size_t first = 0;
    while (slots_[first].bucket != int64_t(b)) ++first;
    flat_.push_back(torch::zeros({sizes[b]}, params_[first].options()));
  }
  arrived_.assign(flat_.size(), 0);
  seen_.assign(params_.size(), false);
  for (size_t k = 0; k < params_.size(); ++k)
    hooks_.push_back(
        params_[k].register_hook([this, k](const torch::Tensor& grad) { on_gradient(k, grad); }));
}

GradientReducer::~GradientReducer() {
  for (size_t k = 0; k < params_.size(); ++k) params_[k].remove_hook(hooks_[k]);
}

void GradientReducer::begin() {
  LW_CHECK(!armed_, "GradientReducer::begin() twice without finish()");
  std::fill(arrived_.begin(), arrived_.end(), 0);
  std::fill(seen_.begin(), seen_.end(), false);
  next_to_start_ = 0;
  started_in_backward_ = 0;
  armed_ = true;
}

void GradientReducer::on_gradient(size_t param, const torch::Tensor& grad) {
  if (!armed_ || seen_[param]) return;
  seen_[param] = true;
  const auto& slot = slots_[param];
  flat_[slot.bucket].narrow(0, slot.offset, slot.numel).copy_(grad.reshape({-1}));
  ++arrived_[slot.bucket];
  start_ready_buckets();
  started_in_backward_ = next_to_start_;
}

void GradientReducer::start_ready_buckets() {
  while (next_to_start_ < int64_t(flat_.size()) &&
         arrived_[next_to_start_] == expected_[next_to_start_])
    comm_.start_all_reduce_sum(flat_[next_to_start_++]);
}

void GradientReducer::finish() {
  LW_CHECK(armed_, "GradientReducer::finish() without begin()");
  armed_ = false;
  // Parameters no gradient reached this pass count as zeros (every rank sends every bucket).
  for (size_t k = 0; k < params_.size(); ++k)
    if (!seen_[k]) {
      const auto& slot = slots_[k];
      flat_[slot.bucket].narrow(0, slot.offset, slot.numel).zero_();
      ++arrived_[slot.bucket];
    }
  start_ready_buckets();
  comm_.wait_started();
  for (size_t k = 0; k < params_.size(); ++k) {
    auto& p = params_[k];
    const auto& slot = slots_[k];
    const auto sum = flat_[slot.bucket].narrow(0, slot.offset, slot.numel).view_as(p);
    if (p.grad().defined())
      p.mutable_grad().copy_(sum);
    else
      p.mutable_grad() = sum.clone();
  }
}

}  // namespace layerwise::distributed
