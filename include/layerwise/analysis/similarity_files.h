// Writing similarity results: DIR/similarity.json, DIR/<metric>.csv and DIR/<metric>.svg.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

namespace layerwise::analysis {

struct SimilarityResults {
  std::vector<std::string> layers_a;  // layer names, rows of every matrix
  std::vector<std::string> layers_b;  // columns
  int64_t n_samples = 0;
  std::map<std::string, torch::Tensor> metrics;  // name -> (La, Lb)
  std::map<std::string, double> seconds;         // name -> time taken
  nlohmann::json inputs;                         // where the layers came from (files, pooling, ...)
  nlohmann::json options;                        // measure options (rbf threshold, ...)
};

/// similarity.json's content: {"layers_a", "layers_b", "n_samples", "metrics": {name: rows},
/// "correlation_with_cos": {name: Pearson r of the matrix entries} (when cos is among them),
/// "seconds", "inputs", "options", "version"}.
nlohmann::json similarity_json(const SimilarityResults& results);

/// Writes similarity.json, one CSV and one SVG heatmap per measure into `dir` (created if missing).
/// Every file is written to a temporary name and renamed; returns the paths written.
std::vector<std::string> write_similarity_files(const std::string& dir,
                                                const SimilarityResults& results);

}  // namespace layerwise::analysis
