#include "layerwise/core/config_fields.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace layerwise {

namespace {

std::string number_text(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

// Long values are cut in messages: a 300-digit number is not worth echoing.
std::string quoted(const std::string& text) {
  return "'" + (text.size() > 40 ? text.substr(0, 40) + "..." : text) + "'";
}

// Integer lists typed as ranges stay small: a typo like 0-99999999999 is refused, not allocated.
constexpr int64_t kMaxListLength = 1 << 20;

}  // namespace

std::string FieldRule::range_text() const {
  const bool has_low = std::isfinite(low), has_high = std::isfinite(high);
  if (has_low && has_high)
    return str_cat("in ", low_open ? "(" : "[", number_text(low), ", ", number_text(high),
                   high_open ? ")" : "]");
  if (has_low) return str_cat(low_open ? "> " : ">= ", number_text(low));
  if (has_high) return str_cat(high_open ? "< " : "<= ", number_text(high));
  return "a number";
}

namespace detail {

void wrong_type(const nlohmann::json& j, const std::string& setting, const char* expected) {
  throw Error(str_cat(setting, " must be ", expected, ", got ", quoted(j.dump())));
}

int64_t integer_from_json(const nlohmann::json& j, const std::string& setting) {
  if (!j.is_number_integer() ||
      (j.is_number_unsigned() && j.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())))
    wrong_type(j, setting, "an integer");
  return j.get<int64_t>();
}

int64_t integer_from_text(const std::string& text, const std::string& setting) {
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  LW_CHECK(!text.empty() && end == text.c_str() + text.size() && errno != ERANGE, setting, ": ",
           quoted(text), " is not an integer");
  return value;
}

double number_from_text(const std::string& text, const std::string& setting) {
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  LW_CHECK(
      !text.empty() && end == text.c_str() + text.size() && errno != ERANGE && std::isfinite(value),
      setting, ": ", quoted(text), " is not a finite number");
  return value;
}

bool bool_from_text(const std::string& text, const std::string& setting) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  throw Error(str_cat(setting, ": ", quoted(text), " is not true or false"));
}

std::vector<int64_t> integer_list_from_text(const std::string& text, const std::string& setting) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    const auto dash = item.find('-', 1);  // a leading '-' is a sign
    const auto bad = [&] {
      return Error(str_cat(setting, ": ", quoted(item), " is not a number or a range like 0-4"));
    };
    int64_t first = 0, last = 0;
    try {
      first = integer_from_text(item.substr(0, dash), setting);
      last = dash == std::string::npos ? first : integer_from_text(item.substr(dash + 1), setting);
    } catch (const Error&) {
      throw bad();
    }
    if (first > last) throw bad();
    LW_CHECK(last - first < kMaxListLength - int64_t(out.size()), setting, ": ", quoted(item),
             " lists more than ", kMaxListLength, " values");
    for (int64_t v = first; v <= last; ++v) out.push_back(v);
  }
  LW_CHECK(!out.empty(), setting, ": no values in ", quoted(text));
  return out;
}

std::vector<double> number_list_from_text(const std::string& text, const std::string& setting) {
  std::vector<double> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    out.push_back(number_from_text(item, setting));
  LW_CHECK(!out.empty(), setting, ": no values in ", quoted(text));
  return out;
}

}  // namespace detail

}  // namespace layerwise
