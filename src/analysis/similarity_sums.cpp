#include "layerwise/analysis/similarity_sums.h"

#include <algorithm>
#include <chrono>

#include "layerwise/analysis/cka.h"
#include "layerwise/analysis/cos.h"
#include "layerwise/analysis/linear_stats.h"
#include "layerwise/core/error.h"

namespace layerwise::analysis {

namespace {

bool contains(const std::vector<std::string>& names, const char* name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The shard's layers minus the means of all samples, in the compute dtype.
Layers center_with(const Layers& layers, const torch::Tensor& means) {
  Layers centered;
  int64_t start = 0;
  for (const auto& x : layers) {
    const auto y = x.to(compute_dtype(x));
    const auto mean = means.narrow(0, start, x.size(1)).to(y.device(), y.scalar_type());  // (D)
    centered.push_back(y - mean);                                                         // (N, D)
    start += x.size(1);
  }
  return centered;
}

}  // namespace

bool metric_is_summable(const std::string& name) {
  return name == "cos" || name == "cka_linear" || name == "cka_debiased" || name == "cka_minibatch";
}

torch::Tensor column_sums(const Layers& layers) {
  std::vector<torch::Tensor> sums;
  for (const auto& x : layers) sums.push_back(x.sum(0, false, torch::kFloat64));  // (D)
  return torch::cat(sums);                                                        // (sum D)
}

std::vector<torch::Tensor> SimilaritySums::tensors() const {
  std::vector<torch::Tensor> out;
  for (const auto* t : {&count, &cos, &product, &row_dot, &sq_norm, &hsic})
    if (t->defined()) out.push_back(*t);
  return out;
}

SimilaritySums similarity_sums(const std::vector<std::string>& metrics, const Layers& layers,
                               const torch::Tensor& means, int64_t minibatch,
                               std::map<std::string, double>* seconds) {
  // One check of the layers (finite, same N, one device), a full pass: cos makes its own.
  if (!contains(metrics, "cos")) check_layers(layers, "the shard's");
  auto clock = std::chrono::steady_clock::now();
  // The time since the last lap, once the device has computed `done`.
  const auto lap = [&](const char* name, const torch::Tensor& done) {
    if (!seconds) return;
    (void)done.flatten()[0].item<double>();
    const auto now = std::chrono::steady_clock::now();
    (*seconds)[name] = std::chrono::duration<double>(now - clock).count();
    clock = now;
  };
  SimilaritySums sums;
  const auto& first = layers.front();
  sums.count = torch::full({}, double(first.size(0)),
                           torch::TensorOptions(torch::kFloat64).device(first.device()));
  if (contains(metrics, "cos")) {
    sums.cos = cos_per_sample_matrix(layers, layers).sum(0).to(torch::kFloat64);  // (L, L)
    lap("cos", sums.cos);
  }
  if (contains(metrics, "cka_linear") || contains(metrics, "cka_debiased")) {
    const auto centered = center_with(layers, means);
    const auto x = torch::cat(centered, 1);         // (N, sum D)
    sums.product = torch::mm(x.t(), x);             // (sum D, sum D)
    const auto rows = squared_row_norms(centered);  // (N, L)
    sums.row_dot = torch::mm(rows.t(), rows);       // (L, L)
    sums.sq_norm = rows.sum(0);                     // (L)
    lap(contains(metrics, "cka_linear") ? "cka_linear" : "cka_debiased", sums.sq_norm);
  }
  if (contains(metrics, "cka_minibatch")) {
    for (const auto& [start, end] : minibatch_ranges(first.size(0), minibatch)) {
      Layers batch;
      for (const auto& x : layers) batch.push_back(x.narrow(0, start, end - start));
      const auto hsic = unbiased_hsic_matrix(batch);  // (L, L)
      sums.hsic = sums.hsic.defined() ? sums.hsic + hsic : hsic;
    }
    lap("cka_minibatch", sums.hsic);
  }
  return sums;
}

std::map<std::string, torch::Tensor> similarity_from_sums(const std::vector<std::string>& metrics,
                                                          const SimilaritySums& sums,
                                                          const std::vector<int64_t>& widths) {
  std::map<std::string, torch::Tensor> out;
  const double n = sums.count.item<double>();
  if (contains(metrics, "cos")) out["cos"] = (sums.cos / n).cpu();
  if (contains(metrics, "cka_linear") || contains(metrics, "cka_debiased")) {
    const auto stats =
        linear_stats_from_sums(sums.product, widths, sums.row_dot, sums.sq_norm, int64_t(n));
    if (contains(metrics, "cka_linear")) out["cka_linear"] = cka_linear(stats).cpu();
    if (contains(metrics, "cka_debiased")) out["cka_debiased"] = cka_debiased(stats).cpu();
  }
  if (contains(metrics, "cka_minibatch")) out["cka_minibatch"] = cka_from_hsic(sums.hsic).cpu();
  return out;
}

}  // namespace layerwise::analysis
