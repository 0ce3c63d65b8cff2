#include "layerwise/analysis/similarity_results.h"

#include <sstream>

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
  if (!results.stats.empty()) {
    auto& statistics = out["statistics"] = nlohmann::json::object();
    for (const auto& [name, s] : results.stats) {
      auto& entry = statistics[name] = nlohmann::json::object();
      const std::pair<const char*, const torch::Tensor*> fields[] = {
          {"ci_low", &s.ci_low},     {"ci_high", &s.ci_high}, {"null_mean", &s.null_mean},
          {"null_std", &s.null_std}, {"p_value", &s.p_value}, {"calibrated", &s.calibrated}};
      for (const auto& [field, matrix] : fields)
        if (matrix->defined()) entry[field] = matrix_to_json(*matrix);
      if (!s.null_method.empty()) entry["null_method"] = s.null_method;
    }
    const auto& o = results.stats_options;
    out["statistics_options"] = {{"bootstrap", o.bootstrap},
                                 {"null_draws", o.null_draws},
                                 {"confidence", o.confidence},
                                 {"seed", o.seed}};
    // Does a measure still track COS once both are calibrated against their nulls?
    const auto cos_stats = results.stats.find("cos");
    if (cos_stats != results.stats.end() && cos_stats->second.calibrated.defined() &&
        cos_stats->second.calibrated.numel() > 1) {
      auto& calibrated = out["calibrated_correlation_with_cos"] = nlohmann::json::object();
      for (const auto& [name, s] : results.stats)
        if (name != "cos" && s.calibrated.defined())
          calibrated[name] = matrix_correlation(cos_stats->second.calibrated, s.calibrated);
    }
  }
  out["seconds"] = results.seconds;
  out["inputs"] = results.inputs;
  out["options"] = results.options;
  return out;
}

std::string similarity_stats_csv(const SimilarityResults& results) {
  std::ostringstream csv;
  csv << "measure,layer_a,layer_b,value,ci_low,ci_high,null_mean,null_std,p_value,calibrated\n";
  csv.precision(17);
  for (const auto& [name, s] : results.stats) {
    const auto& value = results.metrics.at(name);
    const torch::Tensor* columns[] = {&value,      &s.ci_low,  &s.ci_high,   &s.null_mean,
                                      &s.null_std, &s.p_value, &s.calibrated};
    for (size_t i = 0; i < results.layers_a.size(); ++i) {
      for (size_t j = 0; j < results.layers_b.size(); ++j) {
        csv << name << ',' << results.layers_a[i] << ',' << results.layers_b[j];
        for (const auto* column : columns) {
          csv << ',';
          if (column->defined()) csv << (*column)[int64_t(i)][int64_t(j)].item<double>();
        }
        csv << '\n';
      }
    }
  }
  return csv.str();
}

}  // namespace layerwise::analysis
