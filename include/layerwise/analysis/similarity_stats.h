// How much a similarity matrix can be trusted: a permutation null (what the measure gives when the
// samples of layer b are paired with those of layer a at random) and bootstrap intervals.
//
// The null of cos and linear CKA is exact and costs nothing beyond one D x D product per layer:
//   cos:        mean over pairings of (1/N) sum_i <a_i, b_pi(i)> (unit rows) is  mean(a) . mean(b),
//               its variance <Ga, Gb>_F / (N^2 (N - 1)) with G = A_c^T A_c of the centered unit
//               rows (Hoeffding's combinatorial central limit theorem);
//   cka_linear: linear CKA is the RV coefficient, whose permutation mean sqrt(beta_a beta_b) /
//   (N-1)
//               and variance are known in closed form (Kazi-Aoual et al. 1995; Josse, Pages &
//               Husson 2008) from tr W, tr W^2 and sum_i W_ii^2 of W = X X^T, all read off X^T X
//               and the row norms.
// Every other measure draws K random pairings and recomputes. The p-value is one-sided (is the
// measured value above the null?): a normal tail for the exact moments, (1 + #{null >= s}) / (1 +
// K) for drawn ones. The calibrated score (s - null_mean) / (1 - null_mean) is 0 at the null and 1
// for identical layers. The bootstrap resamples the N samples with replacement B times and gives
// the percentile interval of every entry (cos from the per-sample cosines computed once, weighted
// by each resample's counts; the other measures computed again). A resample repeats samples, which
// raises the finite-sample bias of the biased measures (linear and RBF CKA, ~D/N): where D/N is
// not small their intervals sit high, and cka_debiased is the one to bootstrap.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "layerwise/analysis/layers.h"
#include "layerwise/analysis/similarity.h"

namespace layerwise::analysis {

struct StatsOptions {
  int64_t bootstrap = 0;     // resamples (0: no intervals)
  int64_t null_draws = 0;    // random pairings for measures without an exact null (0: no null)
  double confidence = 0.95;  // of the bootstrap interval
  uint64_t seed = 0;
};

/// Per measure: (La, Lb) float64 matrices on the CPU; undefined when not asked for.
struct SimilarityStats {
  torch::Tensor ci_low, ci_high;                           // bootstrap percentile interval
  torch::Tensor null_mean, null_std, p_value, calibrated;  // permutation null
  std::string null_method;                                 // "exact" or "drawn"
};

/// True for the measures whose permutation null has a closed form (cos, cka_linear).
bool has_exact_null(const std::string& metric);

/// The exact permutation null of cos or cka_linear for every layer pair: {mean, std}, each
/// (La, Lb) float64 on the CPU.
std::pair<torch::Tensor, torch::Tensor> exact_null(const std::string& metric, const Layers& a,
                                                   const Layers& b);

/// The statistics `options` asks for, for every measure of `values` (compute_similarity's output on
/// the same layers). The null is asked for with null_draws > 0 (the exact measures ignore the
/// count). Throws layerwise::Error on options out of range.
std::map<std::string, SimilarityStats> similarity_stats(
    const std::map<std::string, torch::Tensor>& values, const Layers& a, const Layers& b,
    const SimilarityOptions& similarity, const StatsOptions& options);

}  // namespace layerwise::analysis
