#include "layerwise/analysis/similarity_results.h"

#include "layerwise/analysis/similarity.h"
#include "layerwise/core/matrix_io.h"
#include "layerwise/core/version.h"

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

}  // namespace layerwise::analysis
