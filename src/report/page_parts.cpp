#include "layerwise/report/page_parts.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <sstream>

#include "layerwise/report/svg.h"

namespace layerwise::report {

using nlohmann::json;

std::string format_number(double value, int digits) {
  if (!std::isfinite(value)) return "n/a";
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "%.*f", digits, value);
  return buffer;
}

std::string format_si(double value) {
  if (!std::isfinite(value)) return "n/a";
  static const char* const kSuffixes[] = {"", " k", " M", " G", " T", " P"};
  size_t power = 0;
  while (std::fabs(value) >= 999.5 && power + 1 < std::size(kSuffixes)) {  // 999.5 prints 1000
    value /= 1000;
    ++power;
  }
  const double a = std::fabs(value);
  const int digits = (power == 0 && a == std::floor(a)) || a >= 99.95 ? 0 : a >= 9.995 ? 1 : 2;
  return format_number(value, digits) + kSuffixes[power];
}

std::string percent(const json& value) {
  return value.is_number() ? format_number(100 * value.get<double>(), 2) : "";
}

// A string for a table cell from any JSON scalar.
std::string json_cell(const json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) return format_number(value.get<double>(), 4);
  return value.dump();
}

// object[key] as a number; NaN when absent or not a number (JSON writes NaN as null).
double number(const json& object, const char* key) {
  if (!object.is_object()) return NAN;
  const auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<double>() : NAN;
}

std::vector<double> numbers(const json& list, double scale) {
  std::vector<double> out;
  if (!list.is_array()) return out;
  for (const auto& v : list) out.push_back(v.is_number() ? scale * v.get<double>() : NAN);
  return out;
}

// The layer numbers of labels "layer.N" (N), or 1..n when a label has another form.
std::vector<double> layer_numbers(const std::vector<std::string>& labels) {
  std::vector<double> x;
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto dot = labels[i].rfind('.');
    try {
      x.push_back(std::stod(labels[i].substr(dot == std::string::npos ? 0 : dot + 1)));
    } catch (const std::exception&) {
      x.clear();
      for (size_t k = 0; k < labels.size(); ++k) x.push_back(double(k + 1));
      return x;
    }
  }
  return x;
}

std::vector<double> one_to(size_t n) {
  std::vector<double> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = double(i + 1);
  return x;
}

// URL path segment: unreserved characters kept, every other byte as %XX.
std::string percent_encode(const std::string& segment) {
  std::string out;
  for (unsigned char c : segment) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += char(c);
    } else {
      char buffer[4];
      std::snprintf(buffer, sizeof buffer, "%%%02X", c);
      out += buffer;
    }
  }
  return out;
}

std::string safe_name(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  return out;
}

std::string table(const std::vector<std::string>& headers,
                  const std::vector<std::vector<std::string>>& rows) {
  std::ostringstream html;
  html << "<table><thead><tr>";
  for (const auto& h : headers) html << "<th>" << xml_escape(h) << "</th>";
  html << "</tr></thead><tbody>\n";
  for (const auto& row : rows) {
    html << "<tr>";
    for (const auto& c : row) html << "<td>" << xml_escape(c) << "</td>";
    html << "</tr>\n";
  }
  html << "</tbody></table>\n";
  return html.str();
}

// Averages of consecutive points, so that a long training log draws as at most `points` points.
std::pair<std::vector<double>, std::vector<double>> downsample_series(const std::vector<double>& x,
                                                                      const std::vector<double>& y,
                                                                      size_t points) {
  if (x.size() <= points) return {x, y};
  const size_t per = (x.size() + points - 1) / points;
  std::vector<double> tx, ty;
  for (size_t i = 0; i < x.size(); i += per) {
    double sx = 0, sy = 0;
    size_t n = 0;
    for (size_t j = i; j < std::min(x.size(), i + per); ++j, ++n) {
      sx += x[j];
      sy += y[j];
    }
    tx.push_back(sx / double(n));
    ty.push_back(sy / double(n));
  }
  return {tx, ty};
}

}  // namespace layerwise::report
