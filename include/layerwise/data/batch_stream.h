// Consecutive batches of an input, the next one made on a background thread while the caller
// uses the current one: images decoded at their stored size are converted, resized and copied to
// the device while the model runs (a prefetch queue of one batch, which bounds the memory).
#pragma once

#include <cstdint>
#include <future>

#include <torch/torch.h>

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
  std::future<torch::Tensor> start(int64_t begin);

  Inputs inputs_;
  int64_t rows_;
  torch::Device device_;
  int64_t next_begin_ = 0;
  std::future<torch::Tensor> pending_;
  double waited_ = 0;
};

}  // namespace layerwise::data
