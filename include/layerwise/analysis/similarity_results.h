// Similarity results as one value and as similarity.json's content (workflow/compare.h writes
// them with a CSV and an SVG heatmap per measure).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "layerwise/analysis/similarity_stats.h"

namespace layerwise::analysis {

struct SimilarityResults {
  std::vector<std::string> layers_a;  // layer names, rows of every matrix
  std::vector<std::string> layers_b;  // columns
  int64_t n_samples = 0;
  std::map<std::string, torch::Tensor> metrics;  // name -> (La, Lb)
  std::map<std::string, double> seconds;         // name -> time taken
  nlohmann::json inputs;                         // where the layers came from (files, pooling, ...)
  nlohmann::json options;                        // measure options (rbf threshold, ...)
  std::map<std::string, SimilarityStats> stats;  // name -> null and intervals, when asked for
  StatsOptions stats_options;
};

/// similarity.json's content: {"layers_a", "layers_b", "n_samples", "metrics": {name: rows},
/// "correlation_with_cos": {name: Pearson r of the matrix entries} (when cos is among them),
/// "seconds", "inputs", "options", "version"}; with statistics, "statistics": {name: {"ci_low",
/// "ci_high", "null_mean", "null_std", "p_value", "calibrated": rows, "null_method"}},
/// "statistics_options" and "calibrated_correlation_with_cos".
nlohmann::json similarity_json(const SimilarityResults& results);

/// similarity_stats.csv: one row per measure and layer pair (measure, layer_a, layer_b, value,
/// ci_low, ci_high, null_mean, null_std, p_value, calibrated; empty where not computed).
std::string similarity_stats_csv(const SimilarityResults& results);

}  // namespace layerwise::analysis
