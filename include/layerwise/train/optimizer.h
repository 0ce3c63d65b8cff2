// AdamW (Loshchilov & Hutter 2019) with decoupled weight decay, gradient-norm clipping and the
// warm-up + cosine learning-rate schedule. Written out rather than taken from torch::optim so that
// its state is a list of named tensors (checkpointed in safetensors) and so that no step waits on
// the host. On CUDA with LibTorch 2.x the update is LibTorch's fused multi-tensor kernel (two
// launches per step instead of ~7 per parameter) with the learning rate and step count in device
// memory, so that a CUDA graph can hold it; elsewhere one parameter at a time with host scalars.
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
  bool fused = true;           // the fused kernel where the build and device have it
  double own_lr_scale = 1.0;   // the `own` tensors' learning rate as a multiple of the lr
};

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

/// A module's parameters with their dotted names (as in model.safetensors), for AdamW.
NamedTensors named_parameters(torch::nn::Module& module);

class AdamW {
 public:
  /// `parameters`: the model's named parameters (names as in model.safetensors). `own`: trainable
  /// tensors outside the model (the learned layer weighting's log variances), updated like the
  /// others and saved by state() with their values, since no model file holds them.
  AdamW(NamedTensors parameters, AdamWConfig config, NamedTensors own = {});

  /// One update with learning rate `lr` from the parameters' .grad() (parameters without a
  /// gradient are left alone): set_lr(lr), then update().
  void step(double lr);
  /// The learning rate of the next update() (written to device memory when fused()).
  void set_lr(double lr);
  /// The update itself; when fused() it is device work only, so a CUDA graph may capture it.
  void update();
  void zero_grad();

  /// Whether updates run LibTorch's fused multi-tensor kernel.
  bool fused() const { return fused_; }
  /// Updates taken (reads the device counter when fused(): not for the hot loop).
  int64_t steps_taken() const;
  const NamedTensors& parameters() const { return parameters_; }
  /// "exp_avg.<name>" and "exp_avg_sq.<name>" for every parameter, and "value.<name>" for the
  /// `own` ones (CPU copies), for checkpoints.
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
  size_t n_model_ = 0;  // parameters_[n_model_..] are the `own` tensors
  AdamWConfig config_;
  bool fused_ = false;
  double lr_ = 0;
  int64_t steps_ = 0;          // the count, when not fused
  torch::Tensor lr_device_;    // () float32, when fused
  torch::Tensor step_device_;  // () float32, when fused

  void update_fused();
  void update_each();
};

/// Scales all gradients so that their joint L2 norm is at most max_norm; returns the norm before
/// clipping as a () device tensor (no host sync). max_norm <= 0: no clipping.
torch::Tensor clip_grad_norm(const NamedTensors& parameters, double max_norm);

/// Learning rate at `step` (0-based) of `total_steps`: linear warm-up from lr/warmup_steps to lr
/// over warmup_steps, then cosine decay to min_lr at the last step.
double warmup_cosine_lr(int64_t step, int64_t total_steps, int64_t warmup_steps, double lr,
                        double min_lr);

}  // namespace layerwise::train
