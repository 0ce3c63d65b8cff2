// Early-exit policies: after each layer, which samples may stop, judged from the logits of the
// classifier read at that layer.
//
//   confidence  max softmax probability >= t
//   entropy     entropy of the softmax / log(C) <= t (0: certain, 1: uniform)
//   patience    the top class has been the same for t consecutive layers (PABEE, Zhou et al. 2020)
//   depth       stop at layer t for every sample (the truncated model)
//
// Every sample stops at the last layer whatever the policy.
#pragma once

#include <string>

#include <torch/torch.h>

#include "layerwise/core/enum_names.h"

namespace layerwise::exit {

enum class PolicyKind { confidence, entropy, patience, depth };

struct ExitPolicy {
  PolicyKind kind = PolicyKind::confidence;
  double threshold = 0.9;
};

/// Throws layerwise::Error if the threshold is out of the policy's range.
void validate(const ExitPolicy& policy);

/// What patience remembers per sample between layers.
struct PolicyState {
  torch::Tensor last_class;  // (B) int64, top class at the previous layer (-1 before layer 1)
  torch::Tensor streak;      // (B) int64, layers in a row with that class
};

/// A fresh state for a batch of `batch` samples on `device`.
PolicyState initial_state(int64_t batch, const torch::Device& device);

/// Keeps the rows `keep` (a (B) bool mask or int64 index) of the state.
PolicyState select_rows(const PolicyState& state, const torch::Tensor& keep);
/// Rows begin..end-1 of the state (views).
PolicyState slice_rows(const PolicyState& state, int64_t begin, int64_t end);
/// The rows of `a`, then those of `b`.
PolicyState concat_rows(const PolicyState& a, const PolicyState& b);

/// (B) bool: which samples exit after `layer` (1-based, of n_layers), given their logits (B, C)
/// there. Updates `state` (patience) for every row.
torch::Tensor should_exit(const ExitPolicy& policy, const torch::Tensor& logits, int64_t layer,
                          int64_t n_layers, PolicyState& state);

}  // namespace layerwise::exit

namespace layerwise {
template <>
struct EnumNames<exit::PolicyKind> {
  static constexpr std::pair<exit::PolicyKind, const char*> values[] = {
      {exit::PolicyKind::confidence, "confidence"},
      {exit::PolicyKind::entropy, "entropy"},
      {exit::PolicyKind::patience, "patience"},
      {exit::PolicyKind::depth, "depth"}};
};
}  // namespace layerwise
