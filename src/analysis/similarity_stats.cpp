#include "layerwise/analysis/similarity_stats.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "layerwise/analysis/cos.h"
#include "layerwise/core/error.h"

namespace layerwise::analysis {

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// cos: per layer the mean unit row (D) and the Gram of the centered unit rows (D x D), float64.
std::pair<torch::Tensor, torch::Tensor> cos_moments(const Layers& layers) {
  std::vector<torch::Tensor> means, grams;
  for (const auto& x : layers) {
    const auto units = unit_rows(x);        // (N, D)
    const auto mean = units.mean(0, true);  // (1, D)
    const auto centered = units - mean;     // (N, D)
    grams.push_back(centered.t().mm(centered).to(torch::kCPU, torch::kFloat64).flatten());
    means.push_back(mean.to(torch::kCPU, torch::kFloat64).flatten());
  }
  return {torch::stack(means), torch::stack(grams)};  // (L, D), (L, D*D)
}

// cka_linear (the RV coefficient): per layer beta and tau of W = X X^T, X centered, from
// tr W = |X|^2, tr W^2 = |X^T X|^2 and sum_i W_ii^2 = sum_i |x_i|^4.
std::pair<torch::Tensor, torch::Tensor> rv_moments(const Layers& layers, double n) {
  std::vector<double> betas, taus;
  for (const auto& x : layers) {
    const auto centered = center_columns(x.to(compute_dtype(x)));    // (N, D)
    const auto row_sq = centered.pow(2).sum(1).to(torch::kFloat64);  // (N)
    const double trace = row_sq.sum().item<double>();
    const double trace_sq =
        centered.t().mm(centered).to(torch::kFloat64).pow(2).sum().item<double>();
    const double diag_sq = row_sq.pow(2).sum().item<double>();
    LW_CHECK(trace > 0, "the permutation null of cka_linear needs a layer that is not constant");
    const double beta = trace * trace / trace_sq;
    const double tau = (n - 1) / ((n - 3) * (n - 1 - beta)) *
                       (n * (n + 1) * diag_sq / trace_sq - (n - 1) * (beta + 2));
    betas.push_back(beta);
    taus.push_back(tau);
  }
  return {torch::tensor(betas, kF64), torch::tensor(taus, kF64)};  // (L), (L)
}

// One-sided tail P(null >= value) of a normal null.
torch::Tensor normal_upper_tail(const torch::Tensor& value, const torch::Tensor& mean,
                                const torch::Tensor& std) {
  const auto z = (value - mean) / std.clamp_min(1e-300);
  return 0.5 * torch::erfc(z / std::sqrt(2.0));
}

torch::Tensor calibrated_score(const torch::Tensor& value, const torch::Tensor& null_mean) {
  return (value - null_mean) / (1 - null_mean);
}

Layers rows_of(const Layers& layers, const torch::Tensor& index) {
  Layers out;
  for (const auto& x : layers) out.push_back(x.index_select(0, index.to(x.device())));
  return out;
}

// K pairings drawn at random: mean, std, and the count of draws at or above the measured value.
void drawn_null(const std::vector<std::string>& metrics,
                const std::map<std::string, torch::Tensor>& values, const Layers& a,
                const Layers& b, const SimilarityOptions& similarity, const StatsOptions& options,
                std::map<std::string, SimilarityStats>& stats) {
  const int64_t n = a.front().size(0), draws = options.null_draws;
  auto generator = at::detail::createCPUGenerator(options.seed + 1);
  std::map<std::string, torch::Tensor> sum, sum_sq, above;
  for (int64_t k = 0; k < draws; ++k) {
    const auto pairing = torch::randperm(n, generator);  // (N)
    const auto null = compute_similarity(metrics, a, rows_of(b, pairing), similarity);
    for (const auto& name : metrics) {
      const auto& m = null.at(name);  // (La, Lb)
      if (k == 0) {
        sum[name] = torch::zeros_like(m);
        sum_sq[name] = torch::zeros_like(m);
        above[name] = torch::zeros_like(m);
      }
      sum[name] += m;
      sum_sq[name] += m * m;
      // procrustes is a distance: "at least as similar" is "at most as far"
      above[name] += (metric_is_similarity(name) ? m >= values.at(name) : m <= values.at(name))
                         .to(torch::kFloat64);
    }
  }
  for (const auto& name : metrics) {
    auto& s = stats[name];
    s.null_method = "drawn";
    s.null_mean = sum[name] / double(draws);
    const auto variance = (sum_sq[name] / double(draws) - s.null_mean.pow(2)) *
                          (draws > 1 ? double(draws) / double(draws - 1) : 1.0);
    s.null_std = variance.clamp_min(0).sqrt();
    s.p_value = (above[name] + 1) / double(draws + 1);
    s.calibrated = calibrated_score(values.at(name), s.null_mean);
  }
}

// B resamples of the samples with replacement: the percentile interval of every entry. cos is a
// mean over samples of per-sample cosines: computed once, each resample is a weighted mean with
// the resample's counts as weights (one (B, N) x (N, La Lb) product for all of them). The other
// measures are computed again on each resample's rows.
void bootstrap(const std::vector<std::string>& metrics, const Layers& a, const Layers& b,
               const SimilarityOptions& similarity, const StatsOptions& options,
               std::map<std::string, SimilarityStats>& stats) {
  const int64_t n = a.front().size(0);
  const bool same = same_layers(a, b);
  auto generator = at::detail::createCPUGenerator(options.seed);
  std::vector<torch::Tensor> resample_rows;
  for (int64_t k = 0; k < options.bootstrap; ++k)
    resample_rows.push_back(torch::randint(n, {n}, generator, torch::kInt64));  // (N)
  std::map<std::string, torch::Tensor> resampled;  // name -> (B, La, Lb)
  std::vector<std::string> recomputed;
  for (const auto& name : metrics) {
    if (name != "cos") {
      recomputed.push_back(name);
      continue;
    }
    const auto per_sample = cos_per_sample_matrix(a, b);  // (N, La, Lb)
    // How often each sample is drawn by each resample: (B, N), one scatter for all of them.
    const auto rows = torch::stack(resample_rows).to(per_sample.device());  // (B, N)
    const auto offsets = torch::arange(options.bootstrap, rows.options()).unsqueeze(1) * n;
    const auto counts = torch::zeros({options.bootstrap, n}, per_sample.options());
    counts.view(-1).index_add_(0, (rows + offsets).flatten(),
                               torch::ones({options.bootstrap * n}, per_sample.options()));
    resampled[name] = (counts.mm(per_sample.flatten(1)) / double(n))
                          .view({options.bootstrap, per_sample.size(1), per_sample.size(2)})
                          .to(torch::kCPU, torch::kFloat64);
  }
  if (!recomputed.empty()) {
    std::map<std::string, std::vector<torch::Tensor>> each;
    for (const auto& rows : resample_rows) {
      const auto ra = rows_of(a, rows);
      const auto matrices =
          compute_similarity(recomputed, ra, same ? ra : rows_of(b, rows), similarity);
      for (const auto& name : recomputed) each[name].push_back(matrices.at(name));
    }
    for (const auto& name : recomputed) resampled[name] = torch::stack(each[name]);
  }
  const double tail = (1 - options.confidence) / 2;
  for (const auto& name : metrics) {
    stats[name].ci_low = torch::quantile(resampled[name], tail, 0);
    stats[name].ci_high = torch::quantile(resampled[name], 1 - tail, 0);
  }
}

}  // namespace

bool has_exact_null(const std::string& metric) {
  return metric == "cos" || metric == "cka_linear";
}

std::pair<torch::Tensor, torch::Tensor> exact_null(const std::string& metric, const Layers& a,
                                                   const Layers& b) {
  check_layer_pair(a, b);
  const double n = double(a.front().size(0));
  LW_CHECK(n >= 4, "a permutation null needs at least 4 samples, got ", n);
  const bool same = same_layers(a, b);
  if (metric == "cos") {
    const auto [mean_a, gram_a] = cos_moments(a);
    const auto [mean_b, gram_b] = same ? std::make_pair(mean_a, gram_a) : cos_moments(b);
    const auto variance = gram_a.mm(gram_b.t()) / (n * n * (n - 1));  // (La, Lb)
    return {mean_a.mm(mean_b.t()), variance.clamp_min(0).sqrt()};
  }
  LW_CHECK(metric == "cka_linear", "no exact permutation null for '", metric,
           "' (only cos and cka_linear have one)");
  const auto [beta_a, tau_a] = rv_moments(a, n);
  const auto [beta_b, tau_b] = same ? std::make_pair(beta_a, tau_a) : rv_moments(b, n);
  const auto mean = (beta_a.unsqueeze(1) * beta_b.unsqueeze(0)).sqrt() / (n - 1);  // (La, Lb)
  const auto variance = 2 * (n - 1 - beta_a).unsqueeze(1) * (n - 1 - beta_b).unsqueeze(0) /
                        ((n + 1) * (n - 1) * (n - 1) * (n - 2)) *
                        (1 + (n - 3) / (2 * n * (n - 1)) * tau_a.unsqueeze(1) * tau_b.unsqueeze(0));
  return {mean, variance.clamp_min(0).sqrt()};
}

std::map<std::string, SimilarityStats> similarity_stats(
    const std::map<std::string, torch::Tensor>& values, const Layers& a, const Layers& b,
    const SimilarityOptions& similarity, const StatsOptions& options) {
  LW_CHECK(options.bootstrap >= 0 && options.null_draws >= 0,
           "bootstrap and null counts must be >= 0, got ", options.bootstrap, " and ",
           options.null_draws);
  LW_CHECK(options.confidence > 0 && options.confidence < 1,
           "the bootstrap confidence must be in (0, 1), got ", options.confidence);
  check_layer_pair(a, b);
  std::vector<std::string> metrics, drawn;
  for (const auto& [name, matrix] : values) {
    metrics.push_back(name);
    if (!has_exact_null(name)) drawn.push_back(name);
  }
  std::map<std::string, SimilarityStats> stats;
  if (options.null_draws > 0) {
    for (const auto& name : metrics) {
      if (!has_exact_null(name)) continue;
      auto& s = stats[name];
      s.null_method = "exact";
      std::tie(s.null_mean, s.null_std) = exact_null(name, a, b);
      s.p_value = normal_upper_tail(values.at(name), s.null_mean, s.null_std);
      s.calibrated = calibrated_score(values.at(name), s.null_mean);
    }
    if (!drawn.empty()) drawn_null(drawn, values, a, b, similarity, options, stats);
  }
  if (options.bootstrap > 0) bootstrap(metrics, a, b, similarity, options, stats);
  return stats;
}

}  // namespace layerwise::analysis
