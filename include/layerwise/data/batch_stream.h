// Consecutive batches of an input, the next ones made on a background thread while the caller
// uses the current one: images decoded at their stored size are converted, resized and copied to
// the device while the model runs. A prefetch queue of two batches (bounded memory, and room for
// a slow batch); on CUDA their copies and normalization run on a side stream (core/side_stream.h),
// so that they overlap the model's kernels rather than queue behind them.
#pragma once

#include <cstdint>
#include <deque>
#include <future>

#include <torch/torch.h>

#include "layerwise/core/side_stream.h"
#include "layerwise/data/inputs.h"

namespace layerwise::data {

class BatchStream {
 public:
  /// Batches [0, rows), [rows, 2 rows), ... of `inputs`, model-ready on `device`.
  BatchStream(Inputs inputs, int64_t rows, torch::Device device);
  ~BatchStream();
  BatchStream(const BatchStream&) = delete;
  BatchStream& operator=(const BatchStream&) = delete;

  struct Batch {
    int64_t begin = 0, end = 0;
    torch::Tensor inputs;  // (end - begin, ...) on the device
  };
  /// The next batch, or false after the last. Rethrows what making a batch threw.
  bool next(Batch& batch);
  /// Seconds the caller waited for batches that were not ready (0 when the data keeps up).
  double seconds_waited() const { return waited_; }

 private:
  static constexpr size_t kDepth = 2;  // batches made ahead
  using Made = std::shared_future<SideStreamTensor>;
  // Starts making the batch at `begin` once the one before it is made (one at a time: each
  // batch already spreads its images over every core).
  void start(int64_t begin);

  Inputs inputs_;
  int64_t rows_;
  torch::Device device_;
  int64_t next_begin_ = 0;    // the first row of the next batch handed out
  int64_t queued_end_ = 0;    // rows up to here are being made or made
  std::deque<Made> pending_;  // in order, at most kDepth
  double waited_ = 0;
};

}  // namespace layerwise::data
