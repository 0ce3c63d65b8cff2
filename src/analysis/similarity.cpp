#include "layerwise/analysis/similarity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "layerwise/analysis/cca.h"
#include "layerwise/analysis/cos.h"
#include "layerwise/analysis/linear_stats.h"
#include "layerwise/analysis/procrustes.h"
#include "layerwise/core/error.h"

namespace layerwise::analysis {

namespace {

struct MetricInfo {
  std::string name;
  std::string description;
};

const std::vector<MetricInfo>& metric_table() {
  static const std::vector<MetricInfo> table = {
      {"cos", "sample-wise cosine similarity, mean over samples (needs equal widths)"},
      {"cka_linear", "linear CKA (Kornblith et al. 2019)"},
      {"cka_rbf", "RBF-kernel CKA, bandwidth = threshold x median distance"},
      {"cka_debiased", "linear CKA with the unbiased HSIC estimator"},
      {"cka_minibatch", "linear CKA from unbiased HSIC summed over minibatches"},
      {"cca_mean", "mean squared canonical correlation (needs N > D)"},
      {"svcca", "SVCCA: CCA on the top singular directions (Raghu et al. 2017)"},
      {"pwcca", "projection-weighted CCA (Morcos et al. 2018), weights from A; needs N > D"},
      {"procrustes", "orthogonal Procrustes distance 2 - 2|X'Y|_* (0 = same up to rotation)"},
  };
  return table;
}

torch::Tensor minibatch_cka(const Layers& a, const Layers& b, int64_t batch) {
  check_layer_pair(a, b);  // here, so that errors name samples by their index in the whole set
  const bool same = same_layers(a, b);
  const int64_t n = a.front().size(0);
  MinibatchCka accumulator;
  for (const auto& [start, end] : minibatch_ranges(n, batch)) {
    const int64_t rows = end - start;
    Layers batch_a, batch_b;
    for (const auto& x : a) batch_a.push_back(x.narrow(0, start, rows));
    if (same) {
      accumulator.update(batch_a, batch_a);
    } else {
      for (const auto& x : b) batch_b.push_back(x.narrow(0, start, rows));
      accumulator.update(batch_a, batch_b);
    }
  }
  return accumulator.result();
}

}  // namespace

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& info : metric_table()) out.push_back(info.name);
    return out;
  }();
  return names;
}

std::string metric_description(const std::string& name) {
  for (const auto& info : metric_table())
    if (info.name == name) return info.description;
  return "";
}

bool metric_is_similarity(const std::string& name) {
  return name != "procrustes";
}

std::vector<std::string> parse_metrics(const std::string& list) {
  if (list == "all") return metric_names();
  std::vector<std::string> out;
  std::stringstream stream(list);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (item.empty()) continue;
    const auto& names = metric_names();
    if (std::find(names.begin(), names.end(), item) == names.end()) {
      std::string known;
      for (const auto& name : names) known += (known.empty() ? "" : ", ") + name;
      throw Error(str_cat("unknown metric '", item, "'; known: ", known, ", or all"));
    }
    if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
  }
  LW_CHECK(!out.empty(), "no metric given; known: cos, cka_linear, ... or all");
  return out;
}

std::map<std::string, torch::Tensor> compute_similarity(const std::vector<std::string>& metrics,
                                                        const Layers& a, const Layers& b,
                                                        const SimilarityOptions& options,
                                                        std::map<std::string, double>* seconds) {
  // No check here: each measure checks its inputs, and a second pass over the layers would cost
  // as much as the whole cosine matrix.
  for (const auto& name : metrics)
    LW_CHECK(!metric_description(name).empty(), "unknown metric '", name, "'");
  const auto wants = [&](const char* name) {
    return std::find(metrics.begin(), metrics.end(), name) != metrics.end();
  };
  std::map<std::string, torch::Tensor> out;
  auto clock = std::chrono::steady_clock::now();
  // Stores a measure's matrix on the CPU (which waits for the device) and the time it took.
  const auto keep = [&](const char* name, const torch::Tensor& matrix) {
    out[name] = matrix.cpu();
    const auto now = std::chrono::steady_clock::now();
    if (seconds) (*seconds)[name] = std::chrono::duration<double>(now - clock).count();
    clock = now;
  };
  if (wants("cka_linear") || wants("cka_debiased")) {
    const auto stats = linear_stats(a, b);  // one product serves both
    if (wants("cka_linear")) keep("cka_linear", cka_linear(stats));
    if (wants("cka_debiased")) keep("cka_debiased", cka_debiased(stats));
  }
  if (wants("cos")) keep("cos", cos(a, b));
  if (wants("cka_rbf")) keep("cka_rbf", cka_rbf(a, b, options.rbf));
  if (wants("cka_minibatch")) keep("cka_minibatch", minibatch_cka(a, b, options.minibatch_size));
  if (wants("cca_mean")) keep("cca_mean", cca_mean(a, b));
  if (wants("svcca")) keep("svcca", svcca(a, b, options.svcca_variance));
  if (wants("pwcca")) keep("pwcca", pwcca(a, b));
  if (wants("procrustes")) keep("procrustes", procrustes(a, b));
  return out;
}

double matrix_correlation(const torch::Tensor& a, const torch::Tensor& b) {
  LW_CHECK(a.sizes() == b.sizes(), "matrix_correlation: shapes ", a.sizes(), " and ", b.sizes(),
           " differ");
  const auto x = a.to(torch::kCPU, torch::kFloat64).flatten();
  const auto y = b.to(torch::kCPU, torch::kFloat64).flatten();
  const auto dx = x - x.mean(), dy = y - y.mean();
  const double r = ((dx * dy).sum() / (dx.norm() * dy.norm())).item<double>();
  return std::isnan(r) ? r : std::clamp(r, -1.0, 1.0);  // rounding can pass +-1 by an ulp
}

}  // namespace layerwise::analysis
