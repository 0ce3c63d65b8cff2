#include "layerwise/analysis/similarity_files.h"

#include <filesystem>

#include "layerwise/analysis/similarity.h"
#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/core/matrix_io.h"
#include "layerwise/core/version.h"
#include "layerwise/report/svg.h"

namespace layerwise::analysis {

nlohmann::json similarity_json(const SimilarityResults& results) {
  nlohmann::json out;
  out["version"] = version_string();
  out["layers_a"] = results.layers_a;
  out["layers_b"] = results.layers_b;
  out["n_samples"] = results.n_samples;
  out["metrics"] = nlohmann::json::object();
  for (const auto& [name, matrix] : results.metrics) out["metrics"][name] = matrix_to_json(matrix);
  // How closely each measure's layer-by-layer matrix tracks COS's (Pearson over the entries).
  const auto cos = results.metrics.find("cos");
  if (cos != results.metrics.end() && cos->second.numel() > 1) {
    out["correlation_with_cos"] = nlohmann::json::object();
    for (const auto& [name, matrix] : results.metrics)
      if (name != "cos")
        out["correlation_with_cos"][name] = matrix_correlation(cos->second, matrix);
  }
  out["seconds"] = results.seconds;
  out["inputs"] = results.inputs;
  out["options"] = results.options;
  return out;
}

std::vector<std::string> write_similarity_files(const std::string& dir,
                                                const SimilarityResults& results) {
  make_directories(dir);
  // Render everything first, so that a failure leaves the folder as it was.
  std::vector<std::pair<std::string, std::string>> files;
  files.emplace_back(dir + "/similarity.json", similarity_json(results).dump(2) + "\n");
  for (const auto& [name, matrix] : results.metrics) {
    files.emplace_back(dir + "/" + name + ".csv",
                       matrix_to_csv(matrix, results.layers_a, results.layers_b));
    report::HeatmapOptions options;
    options.title = name + ": " + metric_description(name);
    if (metric_is_similarity(name)) {
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

}  // namespace layerwise::analysis
