// Gradients summed over the ranks of a data-parallel job while the backward pass still runs.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "layerwise/distributed/communicator.h"

namespace layerwise::distributed {

/// Sums the gradients of `params` over the ranks, overlapped with the backward pass (as DDP's
/// reducer does): the parameters are packed, last first (the order backward reaches them), into
/// flat buckets of about `bucket_bytes`; a hook on each parameter copies its gradient into its
/// bucket as autograd produces it, and a full bucket's all-reduce starts at once, in bucket order
/// (the same on every rank). finish() starts what is left (parameters no gradient reached count
/// as zeros), waits, and writes the sums into the parameters' .grad. A parameter backward never
/// reaches holds its bucket, and those after it, until finish() (the trainer's objectives reach
/// every parameter).
///
///   GradientReducer reducer(comm, params);
///   reducer.begin(); loss.backward(); reducer.finish();   // each step
class GradientReducer {
 public:
  GradientReducer(Communicator& comm, std::vector<torch::Tensor> params,
                  int64_t bucket_bytes = int64_t(25) << 20);
  ~GradientReducer();  // removes the hooks
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  /// Arms the hooks for one backward pass (outside begin()..finish() they do nothing).
  void begin();
  /// After backward: the summed gradients in every parameter's .grad.
  void finish();

  /// Buckets started during the last backward pass, before finish() (for tests: the overlap).
  int64_t started_in_backward() const { return started_in_backward_; }

 private:
  struct Slot {  // where a parameter's gradient lives in its bucket
    int64_t bucket, offset, numel;
  };
  void on_gradient(size_t param, const torch::Tensor& grad);
  void start_ready_buckets();

  Communicator& comm_;
  std::vector<torch::Tensor> params_;
  std::vector<Slot> slots_;
  std::vector<torch::Tensor> flat_;  // one (numel) tensor per bucket
  std::vector<int64_t> expected_;    // parameters per bucket
  std::vector<int64_t> arrived_;     // gradients copied in this pass
  std::vector<bool> seen_;           // per parameter, this pass
  std::vector<unsigned> hooks_;
  int64_t next_to_start_ = 0;
  int64_t started_in_backward_ = 0;
  bool armed_ = false;
};

}  // namespace layerwise::distributed
