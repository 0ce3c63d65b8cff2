// Matrices as JSON and CSV that Python reads without our code (json.load, csv, pandas.read_csv).
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

namespace layerwise {

/// A 2-D tensor as a JSON list of rows of numbers (float64). Non-finite entries become null.
nlohmann::json matrix_to_json(const torch::Tensor& matrix);

/// A 1-D tensor as a JSON list of numbers.
nlohmann::json vector_to_json(const torch::Tensor& vector);

/// A 2-D tensor as CSV: a header "layer,<col names>", then one row per row name. Values printed
/// with 10 significant digits; non-finite entries as "nan".
std::string matrix_to_csv(const torch::Tensor& matrix, const std::vector<std::string>& row_names,
                          const std::vector<std::string>& col_names);

}  // namespace layerwise
