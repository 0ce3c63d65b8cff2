#include "layerwise/exit/policy.h"

#include <cmath>

#include "layerwise/core/error.h"

namespace layerwise::exit {

void validate(const ExitPolicy& p) {
  const double t = p.threshold;
  switch (p.kind) {
    case PolicyKind::confidence:
    case PolicyKind::entropy:
      LW_CHECK(t >= 0 && t <= 1, "the threshold of policy ", p.kind, " must be in [0, 1], got ", t);
      break;
    case PolicyKind::patience:
    case PolicyKind::depth:
      LW_CHECK(t >= 1 && t == std::floor(t), "the threshold of policy ", p.kind,
               " must be a whole number of layers >= 1, got ", t);
      break;
  }
}

PolicyState initial_state(int64_t batch, const torch::Device& device) {
  const auto options = torch::TensorOptions().dtype(torch::kInt64).device(device);
  return {torch::full({batch}, -1, options), torch::zeros({batch}, options)};
}

PolicyState select_rows(const PolicyState& state, const torch::Tensor& keep) {
  if (keep.scalar_type() == torch::kBool)
    return {state.last_class.index({keep}), state.streak.index({keep})};
  return {state.last_class.index_select(0, keep), state.streak.index_select(0, keep)};
}

PolicyState slice_rows(const PolicyState& state, int64_t begin, int64_t end) {
  return {state.last_class.slice(0, begin, end), state.streak.slice(0, begin, end)};
}

PolicyState concat_rows(const PolicyState& a, const PolicyState& b) {
  return {torch::cat({a.last_class, b.last_class}), torch::cat({a.streak, b.streak})};
}

torch::Tensor should_exit(const ExitPolicy& policy, const torch::Tensor& logits, int64_t layer,
                          int64_t n_layers, PolicyState& state) {
  const auto log_p = logits.to(torch::kFloat32).log_softmax(-1);  // (B, C)
  const auto top = log_p.argmax(-1);                              // (B)
  // Patience bookkeeping runs for every policy so that the state stays meaningful.
  const auto same = top.eq(state.last_class);
  state.streak = torch::where(same, state.streak + 1, torch::ones_like(state.streak));
  state.last_class = top;
  torch::Tensor exit_now;
  switch (policy.kind) {
    case PolicyKind::confidence:
      exit_now = log_p.amax(-1).exp().ge(policy.threshold);
      break;
    case PolicyKind::entropy: {
      const double max_entropy = std::log(double(logits.size(-1)));
      const auto entropy = -(log_p.exp() * log_p).sum(-1) / max_entropy;  // (B) in [0, 1]
      exit_now = entropy.le(policy.threshold);
      break;
    }
    case PolicyKind::patience:
      exit_now = state.streak.ge(int64_t(policy.threshold));
      break;
    case PolicyKind::depth:
      exit_now = torch::full_like(top, layer >= int64_t(policy.threshold), torch::kBool);
      break;
  }
  if (layer >= n_layers) exit_now = torch::ones_like(exit_now);
  return exit_now;
}

}  // namespace layerwise::exit
