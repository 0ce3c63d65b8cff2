#include "layerwise/workflow/compare.h"

#include <chrono>
#include <filesystem>
#include <iostream>

#include "layerwise/analysis/cos.h"
#include "layerwise/core/atomic_file.h"
#include "layerwise/core/compat.h"
#include "layerwise/core/error.h"
#include "layerwise/core/matrix_io.h"
#include "layerwise/core/safetensors.h"
#include "layerwise/core/staged_folder.h"
#include "layerwise/report/svg.h"

namespace layerwise::workflow {

analysis::SimilarityResults compare_layers(const analysis::Layers& a, const analysis::Layers& b,
                                           std::vector<std::string> names_a,
                                           std::vector<std::string> names_b,
                                           const std::vector<std::string>& metrics,
                                           const analysis::SimilarityOptions& options, bool quiet,
                                           const analysis::StatsOptions& stats) {
  std::map<std::string, double> seconds;
  auto matrices = analysis::compute_similarity(metrics, a, b, options, &seconds);
  auto results = similarity_results(std::move(names_a), std::move(names_b), a.front().size(0),
                                    std::move(matrices), std::move(seconds), options, quiet);
  if (stats.bootstrap > 0 || stats.null_draws > 0) {
    const auto start = std::chrono::steady_clock::now();
    results.stats = analysis::similarity_stats(results.metrics, a, b, options, stats);
    results.stats_options = stats;
    results.seconds["statistics"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!quiet)
      std::cerr << "statistics (bootstrap " << stats.bootstrap << ", null " << stats.null_draws
                << "): " << results.seconds["statistics"] << " s\n";
  }
  return results;
}

analysis::SimilarityResults similarity_results(std::vector<std::string> names_a,
                                               std::vector<std::string> names_b, int64_t n_samples,
                                               std::map<std::string, torch::Tensor> matrices,
                                               std::map<std::string, double> seconds,
                                               const analysis::SimilarityOptions& options,
                                               bool quiet) {
  analysis::SimilarityResults results;
  results.layers_a = std::move(names_a);
  results.layers_b = std::move(names_b);
  results.n_samples = n_samples;
  results.metrics = std::move(matrices);
  results.seconds = std::move(seconds);
  if (!quiet)
    for (const auto& [metric, s] : results.seconds)
      std::cerr << metric << ": " << results.layers_a.size() << " x " << results.layers_b.size()
                << " in " << s << " s\n";
  results.options = {{"rbf_threshold", options.rbf.threshold},
                     {"median_samples", options.rbf.median_samples},
                     {"svcca_variance", options.svcca_variance},
                     {"minibatch", options.minibatch_size}};
  return results;
}

std::vector<std::string> write_similarity_files(const std::string& dir,
                                                const analysis::SimilarityResults& results) {
  make_directories(dir);
  // Render everything first, so that a failure leaves the folder as it was.
  std::vector<std::pair<std::string, std::string>> files;
  files.emplace_back(dir + "/similarity.json", similarity_json(results).dump(2) + "\n");
  if (!results.stats.empty())
    files.emplace_back(dir + "/similarity_stats.csv", similarity_stats_csv(results));
  for (const auto& [name, matrix] : results.metrics) {
    files.emplace_back(dir + "/" + name + ".csv",
                       matrix_to_csv(matrix, results.layers_a, results.layers_b));
    report::HeatmapOptions options;
    options.title = name + ": " + analysis::metric_description(name);
    if (analysis::metric_is_similarity(name)) {
      options.low = std::min(0.0, matrix.min().item<double>());
      options.high = 1.0;
    }
    files.emplace_back(dir + "/" + name + ".svg",
                       report::heatmap_svg(matrix, results.layers_a, results.layers_b, options));
  }
  std::vector<std::string> written;
  for (const auto& [path, contents] : files) {
    write_file_atomic(path, contents);
    written.push_back(path);
  }
  return written;
}

std::vector<std::string> write_result_folder(
    const std::string& out,
    const std::function<std::vector<std::string>(const std::string& folder)>& write) {
  std::error_code error;
  if (std::filesystem::exists(out, error)) {
    LW_CHECK(std::filesystem::is_directory(out, error), "'", out,
             "' is a file, not a folder; choose another output folder");
    return write(out);
  }
  StagedFolder staged(out);
  auto written = write(staged.path());
  staged.commit();
  for (auto& path : written) path = out + path.substr(staged.path().size());
  return written;
}

std::vector<std::string> run_compare(const CompareOptions& o) {
  LW_CHECK(o.layers_b.empty() || !o.file_b.empty(),
           "a layer selection for B needs a second file B");
  const auto a = analysis::load_layer_file(o.file_a, o.load);
  auto load_b = o.load;
  if (!o.layers_b.empty()) load_b.select = o.layers_b;
  const auto b = o.file_b.empty() ? a : analysis::load_layer_file(o.file_b, load_b);
  auto results = compare_layers(a.layers, b.layers, a.names, b.names, o.metrics, o.similarity,
                                o.quiet, o.stats);
  results.inputs = {{"a", o.file_a},
                    {"b", o.file_b.empty() ? o.file_a : o.file_b},
                    {"pool", enum_name(o.load.pool)},
                    {"device", o.load.device.str()}};
  results.options["tf32"] = compat::cuda_tf32();
  const auto written = write_result_folder(o.out, [&](const std::string& dir) {
    auto paths = write_similarity_files(dir, results);
    if (o.per_sample) {
      const auto per_sample = analysis::cos_per_sample_matrix(a.layers, b.layers);
      paths.push_back(dir + "/cos_per_sample.safetensors");
      write_safetensors(paths.back(), {std::make_pair(std::string("cos"), per_sample)});
    }
    return paths;
  });
  if (!o.quiet) std::cerr << "wrote " << written.size() << " files to " << o.out << "\n";
  return written;
}

}  // namespace layerwise::workflow
