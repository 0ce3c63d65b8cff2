#include "layerwise/data/batch_stream.h"

#include <chrono>

#include "layerwise/core/error.h"

namespace layerwise::data {

BatchStream::BatchStream(Inputs inputs, int64_t rows, torch::Device device)
    : inputs_(std::move(inputs)), rows_(rows), device_(device) {
  LW_CHECK(rows_ >= 1, "batch size must be >= 1, got ", rows_);
  while (pending_.size() < kDepth && queued_end_ < inputs_.size()) start(queued_end_);
}

BatchStream::~BatchStream() {
  // Batches being made on their threads read inputs_: wait for them (a deferred one never started).
  for (auto& made : pending_)
    if (made.wait_for(std::chrono::seconds(0)) != std::future_status::deferred) made.wait();
}

void BatchStream::start(int64_t begin) {
  const int64_t end = std::min(inputs_.size(), begin + rows_);
  queued_end_ = end;
  // A model-ready tensor needs no thread: slicing and copying it is asynchronous already.
  if (!inputs_.per_batch()) {
    pending_.push_back(std::async(std::launch::deferred, [this, begin, end] {
                         return SideStreamTensor{inputs_.batch(begin, end, device_), nullptr};
                       }).share());
    return;
  }
  Made before = pending_.empty() ? Made() : pending_.back();
  pending_.push_back(std::async(std::launch::async, [this, begin, end, before] {
                       if (before.valid()) before.wait();  // its errors reach the caller there
                       return on_side_stream(device_,
                                             [&] { return inputs_.batch(begin, end, device_); });
                     }).share());
}

bool BatchStream::next(Batch& batch) {
  if (pending_.empty()) return false;
  batch.begin = next_begin_;
  batch.end = std::min(inputs_.size(), next_begin_ + rows_);
  const auto waiting = std::chrono::steady_clock::now();
  const auto made = pending_.front().get();  // rethrows what making it threw
  waited_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - waiting).count();
  batch.inputs = use_on_current_stream(made);
  pending_.pop_front();
  next_begin_ = batch.end;
  if (queued_end_ < inputs_.size()) start(queued_end_);
  return true;
}

}  // namespace layerwise::data
