// AdamW (Loshchilov & Hutter 2019) with decoupled weight decay, gradient-norm clipping and the
// warm-up + cosine learning-rate schedule. Written out rather than taken from torch::optim so that
// its state is a list of named tensors (checkpointed in safetensors) and so that no step waits on
// the host: the learning rate and bias corrections are host numbers, the clip scale a device
// tensor.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace layerwise::train {

struct AdamWConfig {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.05;  // applied to matrix weights only (see decays())
};

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

class AdamW {
 public:
  /// `parameters`: the model's named parameters (names as in model.safetensors).
  AdamW(NamedTensors parameters, AdamWConfig config);

  /// One update with learning rate `lr` from the parameters' .grad() (parameters without a
  /// gradient are left alone).
  void step(double lr);
  void zero_grad();

  int64_t steps_taken() const { return steps_; }
  const NamedTensors& parameters() const { return parameters_; }
  /// "exp_avg.<name>" and "exp_avg_sq.<name>" for every parameter (CPU copies), for checkpoints.
  NamedTensors state() const;
  /// Restores state() output taken after `steps` steps; throws layerwise::Error on a missing
  /// tensor or a shape that does not match.
  void load_state(const NamedTensors& state, int64_t steps);

  /// Whether a parameter gets weight decay: matrices and convolution kernels (dim >= 2) except
  /// position embeddings and the class token; never biases or norms.
  static bool decays(const std::string& name, const torch::Tensor& parameter);

 private:
  NamedTensors parameters_;
  std::vector<torch::Tensor> exp_avg_, exp_avg_sq_;
  std::vector<bool> decays_;
  AdamWConfig config_;
  int64_t steps_ = 0;
};

/// Scales all gradients so that their joint L2 norm is at most max_norm; returns the norm before
/// clipping as a () device tensor (no host sync). max_norm <= 0: no clipping.
torch::Tensor clip_grad_norm(const NamedTensors& parameters, double max_norm);

/// Learning rate at `step` (0-based) of `total_steps`: linear warm-up from lr/warmup_steps to lr
/// over warmup_steps, then cosine decay to min_lr at the last step.
double warmup_cosine_lr(int64_t step, int64_t total_steps, int64_t warmup_steps, double lr,
                        double min_lr);

}  // namespace layerwise::train
