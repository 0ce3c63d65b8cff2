#include "layerwise/train/optimizer.h"

#include <cmath>

#include "layerwise/core/compat.h"
#include "layerwise/core/error.h"

namespace layerwise::train {

NamedTensors named_parameters(torch::nn::Module& module) {
  NamedTensors out;
  for (const auto& item : module.named_parameters()) out.emplace_back(item.key(), item.value());
  return out;
}

AdamW::AdamW(NamedTensors parameters, AdamWConfig config, NamedTensors own)
    : parameters_(std::move(parameters)), config_(config) {
  n_model_ = parameters_.size();
  parameters_.insert(parameters_.end(), own.begin(), own.end());
  for (const auto& [name, p] : parameters_) {
    exp_avg_.push_back(torch::zeros_like(p));
    exp_avg_sq_.push_back(torch::zeros_like(p));
    decays_.push_back(decays(name, p));
  }
  const bool on_cuda = !parameters_.empty() && parameters_.front().second.is_cuda();
  fused_ = config_.fused && compat::kHasFusedAdamW && on_cuda;
  if (fused_) {
    const auto options = parameters_.front().second.options().dtype(torch::kFloat32);
    lr_device_ = torch::zeros({}, options);
    step_device_ = torch::zeros({}, options);
  }
}

bool AdamW::decays(const std::string& name, const torch::Tensor& parameter) {
  return parameter.dim() >= 2 && name.find("pos_embed") == std::string::npos &&
         name.find("cls_token") == std::string::npos;
}

void AdamW::step(double lr) {
  set_lr(lr);
  update();
}

void AdamW::set_lr(double lr) {
  lr_ = lr;
  if (fused_) lr_device_.fill_(lr);  // a kernel with the value as argument: no sync
}

void AdamW::update() {
  torch::NoGradGuard no_grad;
  fused_ ? update_fused() : update_each();
}

int64_t AdamW::steps_taken() const {
  return fused_ ? int64_t(step_device_.item<float>()) : steps_;
}

void AdamW::update_fused() {
  step_device_.add_(1.0);
  // Groups: the model's parameters with and without weight decay, then the `own` tensors at
  // their learning rate; parameters without a gradient are left out.
  struct Group {
    bool decay, own;
  };
  for (const auto group : {Group{true, false}, Group{false, false}, Group{false, true}}) {
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
    for (size_t i = 0; i < parameters_.size(); ++i) {
      const auto& p = parameters_[i].second;
      if (decays_[i] != group.decay || (i >= n_model_) != group.own || !p.grad().defined())
        continue;
      params.push_back(p);
      grads.push_back(p.grad());
      exp_avgs.push_back(exp_avg_[i]);
      exp_avg_sqs.push_back(exp_avg_sq_[i]);
      steps.push_back(step_device_);  // one shared counter, read by every tensor's update
    }
    if (params.empty()) continue;
    const auto lr = group.own ? lr_device_ * config_.own_lr_scale : lr_device_;
    compat::fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, steps, lr, config_.beta1,
                         config_.beta2, group.decay ? config_.weight_decay : 0.0, config_.eps);
  }
}

void AdamW::update_each() {
  ++steps_;
  const double correction1 = 1.0 - std::pow(config_.beta1, double(steps_));
  const double correction2 = 1.0 - std::pow(config_.beta2, double(steps_));
  for (size_t i = 0; i < parameters_.size(); ++i) {
    auto& p = parameters_[i].second;
    const auto& grad = p.grad();
    if (!grad.defined()) continue;
    const double lr = i >= n_model_ ? lr_ * config_.own_lr_scale : lr_;
    exp_avg_[i].lerp_(grad, 1.0 - config_.beta1);
    exp_avg_sq_[i].mul_(config_.beta2).addcmul_(grad, grad, 1.0 - config_.beta2);
    if (decays_[i]) p.mul_(1.0 - lr * config_.weight_decay);
    const auto denom = (exp_avg_sq_[i].sqrt() / std::sqrt(correction2)).add_(config_.eps);
    p.addcdiv_(exp_avg_[i], denom, -lr / correction1);
  }
}

void AdamW::zero_grad() {
  for (auto& [name, p] : parameters_)
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
}

NamedTensors AdamW::state() const {
  // Copies, also on the CPU (where .cpu() would alias the live tensors).
  auto copy = [](const torch::Tensor& t) { return t.detach().to(torch::kCPU, false, true); };
  NamedTensors out;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    out.emplace_back("exp_avg." + parameters_[i].first, copy(exp_avg_[i]));
    out.emplace_back("exp_avg_sq." + parameters_[i].first, copy(exp_avg_sq_[i]));
    if (i >= n_model_)
      out.emplace_back("value." + parameters_[i].first, copy(parameters_[i].second));
  }
  return out;
}

void AdamW::load_state(const NamedTensors& state, int64_t steps) {
  auto find = [&state](const std::string& name) {
    for (const auto& [key, value] : state)
      if (key == name) return value;
    throw Error(str_cat("optimizer state has no tensor '", name, "'"));
  };
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    for (auto* slot : {&exp_avg_, &exp_avg_sq_}) {
      const std::string name =
          (slot == &exp_avg_ ? "exp_avg." : "exp_avg_sq.") + parameters_[i].first;
      const auto value = find(name);
      LW_CHECK(value.sizes() == (*slot)[i].sizes(), "optimizer state '", name, "' has shape ",
               value.sizes(), ", the parameter ", (*slot)[i].sizes());
      (*slot)[i].copy_(value);
    }
    if (i >= n_model_) {
      const auto name = "value." + parameters_[i].first;
      const auto value = find(name);
      LW_CHECK(value.sizes() == parameters_[i].second.sizes(), "optimizer state '", name,
               "' has shape ", value.sizes(), ", the tensor ", parameters_[i].second.sizes());
      parameters_[i].second.copy_(value);
    }
  }
  steps_ = steps;
  if (fused_) step_device_.fill_(double(steps));
}

torch::Tensor clip_grad_norm(const NamedTensors& parameters, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& [name, p] : parameters)
    if (p.grad().defined()) grads.push_back(p.grad());
  LW_CHECK(!grads.empty(), "clip_grad_norm: no parameter has a gradient");
  const auto total = torch::stack(compat::norms_of(grads)).norm();  // ()
  if (max_norm > 0) compat::scale_all_(grads, (max_norm / (total + 1e-6)).clamp_max(1.0));
  return total;
}

double warmup_cosine_lr(int64_t step, int64_t total_steps, int64_t warmup_steps, double lr,
                        double min_lr) {
  if (step < warmup_steps) return lr * double(step + 1) / double(warmup_steps);
  const int64_t decay_steps = std::max<int64_t>(1, total_steps - warmup_steps - 1);
  const double progress = std::min(1.0, double(step - warmup_steps) / double(decay_steps));
  return min_lr + (lr - min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace layerwise::train
