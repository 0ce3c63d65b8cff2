#include "layerwise/report/similarity_matrices.h"

#include <algorithm>
#include <cmath>

#include "layerwise/core/error.h"
#include "layerwise/core/run_dir.h"

namespace layerwise::report {

std::vector<SimilarityMatrix> read_similarity_matrices(const std::vector<RunFiles>& runs) {
  std::vector<SimilarityMatrix> matrices;
  for (size_t k = 0; k < runs.size(); ++k) {
    const auto& s = runs[k].similarity;
    if (s.is_null()) continue;
    const auto rows = s.at("layers_a").get<std::vector<std::string>>();
    const auto cols = s.at("layers_b").get<std::vector<std::string>>();
    LW_CHECK(!rows.empty() && !cols.empty(), RunDir(runs[k].dir).similarity(),
             ": layers_a and layers_b must each name at least one layer");
    const auto read = [&](const nlohmann::json& matrix, const std::string& where) {
      LW_CHECK(matrix.is_array() && matrix.size() == rows.size(), where, " must have ", rows.size(),
               " rows (one per entry of layers_a)");
      std::vector<double> values;
      for (const auto& row : matrix) {
        LW_CHECK(row.is_array() && row.size() == cols.size(), where, ": every row must have ",
                 cols.size(), " entries (one per entry of layers_b)");
        for (const auto& v : row) values.push_back(v.is_number() ? v.get<double>() : NAN);
      }
      return torch::tensor(values, torch::kFloat64).view({int64_t(rows.size()), -1});
    };
    const auto statistics = s.value("statistics", nlohmann::json::object());
    for (const auto& [metric, matrix] : s.at("metrics").items()) {
      const auto where = str_cat(RunDir(runs[k].dir).similarity(), ": ", metric);
      SimilarityMatrix m{k, metric, read(matrix, where), rows, cols, {}, {}, {}};
      if (statistics.is_object() && statistics.contains(metric)) {  // --bootstrap, --null
        const auto& st = statistics.at(metric);
        const std::pair<const char*, torch::Tensor*> fields[] = {
            {"ci_low", &m.ci_low}, {"ci_high", &m.ci_high}, {"p_value", &m.p_value}};
        for (const auto& [field, tensor] : fields)
          if (st.is_object() && st.contains(field))
            *tensor = read(st.at(field), str_cat(where, " ", field));
      }
      matrices.push_back(std::move(m));
    }
  }
  std::stable_sort(matrices.begin(), matrices.end(),
                   [](const SimilarityMatrix& a, const SimilarityMatrix& b) {
                     return (a.metric != "cos") < (b.metric != "cos");
                   });
  return matrices;
}

}  // namespace layerwise::report
