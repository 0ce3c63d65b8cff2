// `layerwise compare` and the comparing half of `layerwise similarity`: every requested measure
// for every pair of layers in one call of the similarity engine (measures that share a product
// share it), timed, and written as similarity.json, <measure>.csv and <measure>.svg.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "layerwise/analysis/layer_file.h"
#include "layerwise/analysis/similarity.h"
#include "layerwise/analysis/similarity_results.h"

namespace layerwise::workflow {

/// Computes `metrics` for every pair (a[i], b[j]) (pass the same list twice within one model);
/// names label the rows and columns. Fills metrics, seconds, n_samples and the measure options,
/// and the permutation null and bootstrap intervals that `stats` asks for.
analysis::SimilarityResults compare_layers(const analysis::Layers& a, const analysis::Layers& b,
                                           std::vector<std::string> names_a,
                                           std::vector<std::string> names_b,
                                           const std::vector<std::string>& metrics,
                                           const analysis::SimilarityOptions& options, bool quiet,
                                           const analysis::StatsOptions& stats = {});

/// Results from matrices already computed (name -> (La, Lb)) and their times: fills the fields
/// compare_layers fills, and prints the times unless `quiet`.
analysis::SimilarityResults similarity_results(std::vector<std::string> names_a,
                                               std::vector<std::string> names_b, int64_t n_samples,
                                               std::map<std::string, torch::Tensor> matrices,
                                               std::map<std::string, double> seconds,
                                               const analysis::SimilarityOptions& options,
                                               bool quiet);

/// Writes similarity.json, one CSV and one SVG heatmap per measure into `dir` (created if missing).
/// Everything is rendered first and every file goes through a temporary name, so a failure leaves
/// no half-written file. Returns the paths written.
std::vector<std::string> write_similarity_files(const std::string& dir,
                                                const analysis::SimilarityResults& results);

/// Writes a result folder with `write(folder)`, which returns the paths it wrote: a new folder
/// appears whole or not at all (staged as OUT.partial); into a folder that exists (a run folder, a
/// previous output) each file is replaced atomically. Refuses an OUT that is a file.
std::vector<std::string> write_result_folder(
    const std::string& out,
    const std::function<std::vector<std::string>(const std::string& folder)>& write);

struct CompareOptions {
  std::string file_a, file_b;  // safetensors files of layers; file_b empty: A with itself
  std::string layers_b;        // layer selection for B ("" : load.select)
  analysis::LoadOptions load;  // pooling, layer selection, sample limit, device
  std::vector<std::string> metrics = {"cos", "cka_linear", "cka_rbf", "cka_debiased"};
  analysis::SimilarityOptions similarity;
  analysis::StatsOptions stats;  // --bootstrap, --null
  std::string out = "similarity_out";
  bool per_sample = false;  // also OUT/cos_per_sample.safetensors: (N, La, Lb) per-sample cosines
  bool quiet = false;
};

/// Compares the layers of activation files (any framework's) and writes the results to out.
/// Returns the paths written.
std::vector<std::string> run_compare(const CompareOptions& options);

}  // namespace layerwise::workflow
