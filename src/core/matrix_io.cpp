#include "layerwise/core/matrix_io.h"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "layerwise/core/error.h"

namespace layerwise {

namespace {

// Quotes a CSV field when it holds a separator, quote or line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

nlohmann::json vector_to_json(const torch::Tensor& vector) {
  const auto values = vector.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  LW_CHECK(values.dim() == 1, "expected a vector, got shape ", values.sizes());
  auto out = nlohmann::json::array();
  const auto* v = values.data_ptr<double>();
  for (int64_t i = 0; i < values.numel(); ++i)
    out.push_back(std::isfinite(v[i]) ? nlohmann::json(v[i]) : nlohmann::json(nullptr));
  return out;
}

nlohmann::json matrix_to_json(const torch::Tensor& matrix) {
  LW_CHECK(matrix.dim() == 2, "expected a matrix, got shape ", matrix.sizes());
  auto out = nlohmann::json::array();
  for (int64_t i = 0; i < matrix.size(0); ++i) out.push_back(vector_to_json(matrix[i]));
  return out;
}

std::string matrix_to_csv(const torch::Tensor& matrix, const std::vector<std::string>& row_names,
                          const std::vector<std::string>& col_names) {
  const auto values = matrix.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  LW_CHECK(values.dim() == 2 && values.size(0) == static_cast<int64_t>(row_names.size()) &&
               values.size(1) == static_cast<int64_t>(col_names.size()),
           "matrix of shape ", values.sizes(), " does not match ", row_names.size(), " x ",
           col_names.size(), " names");
  std::ostringstream out;
  out << "layer";
  for (const auto& name : col_names) out << ',' << csv_field(name);
  out << '\n' << std::setprecision(10);
  const auto* v = values.data_ptr<double>();
  for (int64_t i = 0; i < values.size(0); ++i) {
    out << csv_field(row_names[i]);
    for (int64_t j = 0; j < values.size(1); ++j) {
      const double x = v[i * values.size(1) + j];
      out << ',';
      if (std::isfinite(x))
        out << x;
      else
        out << "nan";
    }
    out << '\n';
  }
  return out.str();
}

}  // namespace layerwise
