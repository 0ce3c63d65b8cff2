// How hidden states with a token dimension become one representation per sample: the one pooling
// function of the project, used for activation files (layer_file.h) and for a model's hidden
// states (inference/extract.h), where a mask marks the real tokens of padded text.
#pragma once

#include <torch/torch.h>

#include "layerwise/core/enum_names.h"

namespace layerwise::analysis {

enum class Pool {
  cls,      // token 0, the class token: (N, D)
  mean,     // mean over the real tokens: (N, D)
  last,     // the last real token, a decoder's summary: (N, D)
  flatten,  // every token's features side by side: (N, T*D)
  tokens,   // every token a sample of its own: (N*T, D)
};

/// Applies `pool` to (N, T, D); (N, D) passes through. mask (N, T) bool marks real tokens
/// (undefined: all real); flatten and tokens take no mask.
torch::Tensor pool_tokens(const torch::Tensor& x, Pool pool, const torch::Tensor& mask = {});

}  // namespace layerwise::analysis

namespace layerwise {
template <>
struct EnumNames<analysis::Pool> {
  static constexpr std::pair<analysis::Pool, const char*> values[] = {
      {analysis::Pool::cls, "cls"},
      {analysis::Pool::mean, "mean"},
      {analysis::Pool::last, "last"},
      {analysis::Pool::flatten, "flatten"},
      {analysis::Pool::tokens, "tokens"}};
};
}  // namespace layerwise
