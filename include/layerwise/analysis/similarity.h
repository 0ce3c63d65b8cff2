// The similarity engine: every measure by name, computed for all layer pairs at once, sharing the
// work that several measures need (linear CKA and debiased CKA use one product of the layers).
// It knows nothing about models: it takes layer lists and returns matrices.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "layerwise/analysis/cka.h"
#include "layerwise/analysis/layers.h"

namespace layerwise::analysis {

struct SimilarityOptions {
  RbfOptions rbf;                 // bandwidth and tiling of cka_rbf
  double svcca_variance = 0.99;   // share of variance svcca keeps
  int64_t minibatch_size = 1024;  // batch of cka_minibatch
};

/// The measure names, in the order results are reported:
/// cos, cka_linear, cka_rbf, cka_debiased, cka_minibatch, cca_mean, svcca, pwcca, procrustes.
const std::vector<std::string>& metric_names();

/// A one-line description of a measure, for --help and reports.
std::string metric_description(const std::string& name);

/// True for measures where larger means more similar (all but procrustes, a distance).
bool metric_is_similarity(const std::string& name);

/// Parses "cos,cka_linear" (or "all"); throws layerwise::Error naming an unknown measure.
std::vector<std::string> parse_metrics(const std::string& list);

/// Computes each named measure for every pair (a[i], b[j]): name -> float64 (La, Lb) on the CPU.
/// Pass the same list twice for a within-model comparison. With `seconds`, the wall time of each
/// measure (the product linear and debiased CKA share counts for the first of them).
std::map<std::string, torch::Tensor> compute_similarity(
    const std::vector<std::string>& metrics, const Layers& a, const Layers& b,
    const SimilarityOptions& options = {}, std::map<std::string, double>* seconds = nullptr);

/// Pearson correlation of the entries of two same-shape matrices (e.g. a model's COS and linear CKA
/// matrices: how closely one measure tracks the other). NaN if either is constant.
double matrix_correlation(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace layerwise::analysis
