#include "layerwise/data/batch_stream.h"

#include <chrono>

#include "layerwise/core/error.h"

namespace layerwise::data {

BatchStream::BatchStream(Inputs inputs, int64_t rows, torch::Device device)
    : inputs_(std::move(inputs)), rows_(rows), device_(device) {
  LW_CHECK(rows_ >= 1, "batch size must be >= 1, got ", rows_);
  if (inputs_.size() > 0) pending_ = start(0);
}

BatchStream::~BatchStream() {
  // A batch being made on its thread reads inputs_: wait for it (a deferred one never started).
  if (pending_.valid() &&
      pending_.wait_for(std::chrono::seconds(0)) != std::future_status::deferred)
    pending_.wait();
}

std::future<torch::Tensor> BatchStream::start(int64_t begin) {
  const int64_t end = std::min(inputs_.size(), begin + rows_);
  // A model-ready tensor needs no thread: slicing and copying it is asynchronous already.
  const auto policy = inputs_.per_batch() ? std::launch::async : std::launch::deferred;
  return std::async(policy, [this, begin, end] { return inputs_.batch(begin, end, device_); });
}

bool BatchStream::next(Batch& batch) {
  if (next_begin_ >= inputs_.size()) return false;
  batch.begin = next_begin_;
  batch.end = std::min(inputs_.size(), next_begin_ + rows_);
  const auto waiting = std::chrono::steady_clock::now();
  batch.inputs = pending_.get();
  waited_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - waiting).count();
  next_begin_ = batch.end;
  if (next_begin_ < inputs_.size()) pending_ = start(next_begin_);
  return true;
}

}  // namespace layerwise::data
