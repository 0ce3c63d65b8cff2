// Similarity from sums over samples: shards of the samples, computed apart (the ranks of a
// distributed job), combine by adding, so no rank ever holds another's hidden states. The measures
// that are formulas on such sums, within one model (a layer list compared with itself):
//   cos            the per-sample cosines, summed
//   cka_linear,    X^T X of the layers centered with the means of ALL samples, the products and
//   cka_debiased   sums of their squared row norms (linear_stats_from_sums)
//   cka_minibatch  unbiased HSIC summed over minibatches; a shard holds whole minibatches
//                  (minibatch_ranges), so the batches are those one process takes
// The other measures (RBF kernels, CCA, Procrustes) need all samples at once.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "layerwise/analysis/layers.h"

namespace layerwise::analysis {

/// True for the measures above.
bool metric_is_summable(const std::string& name);

/// Each layer's column sums, concatenated: (sum D) float64. Added over shards and divided by the
/// number of samples: the means that center every shard alike.
torch::Tensor column_sums(const Layers& layers);

/// One shard's sums, on the layers' device. Shards combine by adding each of tensors().
struct SimilaritySums {
  torch::Tensor count;    // () float64: samples
  torch::Tensor cos;      // (L, L) float64: per-sample cosines
  torch::Tensor product;  // (sum D, sum D) compute dtype: X^T X of the centered layers
  torch::Tensor row_dot;  // (L, L) float64: R^T R, R (N, L) the centered squared row norms
  torch::Tensor sq_norm;  // (L) float64: column sums of R
  torch::Tensor hsic;     // (L, L) float64: unbiased HSIC summed over minibatches
  /// The defined tensors, in a fixed order (views of the same storage: add into them in place).
  std::vector<torch::Tensor> tensors() const;
};

/// The sums of one shard for the summable measures among `metrics` (others are ignored).
/// `means` (sum D) float64: the column means of all samples (see column_sums). `minibatch`: the
/// batch of cka_minibatch. With `seconds`, the time each measure's sums took.
SimilaritySums similarity_sums(const std::vector<std::string>& metrics, const Layers& layers,
                               const torch::Tensor& means, int64_t minibatch,
                               std::map<std::string, double>* seconds = nullptr);

/// The summable measures among `metrics` from the sums of all shards: name -> float64 (L, L) on
/// the CPU. `widths`: D of each layer.
std::map<std::string, torch::Tensor> similarity_from_sums(const std::vector<std::string>& metrics,
                                                          const SimilaritySums& sums,
                                                          const std::vector<int64_t>& widths);

}  // namespace layerwise::analysis
