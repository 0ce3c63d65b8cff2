// Small pieces the HTML report is made of: numbers read from run JSON (null -> NaN), cells and
// tables, URL-safe link segments and file names, and thinning of long series.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace layerwise::report {

/// value with `digits` decimals; "n/a" when not finite.
std::string format_number(double value, int digits = 2);
/// value with 3 significant digits and an SI suffix (k, M, G, T, P): 1234567 -> "1.23 M";
/// "n/a" when not finite.
std::string format_si(double value);
/// 100 x value with 2 decimals; "" when not a number.
std::string percent(const nlohmann::json& value);
/// A table cell from any JSON scalar.
std::string json_cell(const nlohmann::json& value);
/// object[key] as a number; NaN when absent or not a number (JSON writes NaN as null).
double number(const nlohmann::json& object, const char* key);
/// A JSON list of numbers, scaled; NaN for entries that are not numbers.
std::vector<double> numbers(const nlohmann::json& list, double scale = 1);
/// The layer numbers of labels "layer.N" (N), or 1..n when a label has another form.
std::vector<double> layer_numbers(const std::vector<std::string>& labels);
/// 1, 2, ..., n.
std::vector<double> one_to(size_t n);
/// URL path segment: unreserved characters kept, every other byte as %XX.
std::string percent_encode(const std::string& segment);
/// A file stem: letters, digits and '-' kept, anything else '_'.
std::string safe_name(const std::string& text);
/// An HTML table, every cell escaped.
std::string table(const std::vector<std::string>& headers,
                  const std::vector<std::vector<std::string>>& rows);
/// Averages of consecutive points, so that a long series draws as at most `points` points.
std::pair<std::vector<double>, std::vector<double>> downsample_series(const std::vector<double>& x,
                                                                      const std::vector<double>& y,
                                                                      size_t points);

}  // namespace layerwise::report
