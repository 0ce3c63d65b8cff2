// Configuration structs describe their fields once, in an overload of visit_fields found by ADL:
//
//   template <typename C, typename Field, enable_for<C, TrainConfig> = 0>
//   void visit_fields(C& c, Field&& field) {
//     field("epochs", c.epochs, at_least(1));  // JSON name, member, rule (range, when written)
//     field("augment", c.augment);             // enums are read and written by their EnumNames
//   }
//
// Writing JSON (fields_to_json), reading it with the unknown-key check (fields_from_json), the
// range checks (check_fields) and values typed on a command line (field_from_text) all come from
// that description; the defaults are the struct's member initializers. Messages name the setting
// as "<section>.<field>" (train.epochs), whatever the value came from: a file, a flag or C++.
//
// Field types: bool, int64_t, uint64_t, double, std::string, enums with EnumNames, and vectors of
// double or int64_t.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerwise/core/enum_names.h"
#include "layerwise/core/error.h"

namespace layerwise {

/// Enables a visit_fields template for Config = T and const T only.
template <typename Config, typename T>
using enable_for = std::enable_if_t<std::is_same_v<std::remove_const_t<Config>, T>, int>;

/// What a field admits beyond its type: a numeric range, and whether JSON output holds it.
struct FieldRule {
  double low = -std::numeric_limits<double>::infinity();
  double high = std::numeric_limits<double>::infinity();
  bool low_open = false, high_open = false;
  bool written = true;  // false: left out of written JSON (e.g. text settings of an image run)

  /// This rule, written to JSON only when `condition` holds.
  FieldRule written_if(bool condition) const {
    auto rule = *this;
    rule.written = written && condition;
    return rule;
  }
  bool admits(double value) const {
    return (low_open ? value > low : value >= low) && (high_open ? value < high : value <= high);
  }
  /// ">= 1", "> 0", "in [0, 1)".
  std::string range_text() const;
};

inline FieldRule at_least(double low) {
  return {low};
}
inline FieldRule above(double low) {
  return {low, std::numeric_limits<double>::infinity(), true};
}
/// [low, high), or [low, high] with high_open = false.
inline FieldRule in_range(double low, double high, bool high_open = true) {
  return {low, high, false, high_open};
}
inline FieldRule always_written() {
  return {};
}

namespace detail {

template <typename T>
struct is_vector : std::false_type {};
template <typename T>
struct is_vector<std::vector<T>> : std::true_type {};

/// Reads one JSON value into `value`, strictly typed; throws naming `setting`.
template <typename T>
void value_from_json(const nlohmann::json& j, T& value, const std::string& setting);

/// Reads one command-line text into `value` ("0-4,7" for integer lists, "0.1,0.2" for number
/// lists); throws naming `setting`.
template <typename T>
void value_from_text(const std::string& text, T& value, const std::string& setting);

int64_t integer_from_json(const nlohmann::json& j, const std::string& setting);
int64_t integer_from_text(const std::string& text, const std::string& setting);
double number_from_text(const std::string& text, const std::string& setting);
bool bool_from_text(const std::string& text, const std::string& setting);
std::vector<int64_t> integer_list_from_text(const std::string& text, const std::string& setting);
std::vector<double> number_list_from_text(const std::string& text, const std::string& setting);
[[noreturn]] void wrong_type(const nlohmann::json& j, const std::string& setting,
                             const char* expected);

template <typename T>
void value_from_json(const nlohmann::json& j, T& value, const std::string& setting) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) wrong_type(j, setting, "true or false");
    value = j.get<bool>();
  } else if constexpr (std::is_same_v<T, int64_t>) {
    value = integer_from_json(j, setting);
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    if (!j.is_number_unsigned()) wrong_type(j, setting, "a non-negative integer");
    value = j.get<uint64_t>();
  } else if constexpr (std::is_same_v<T, double>) {
    if (!j.is_number()) wrong_type(j, setting, "a number");
    value = j.get<double>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) wrong_type(j, setting, "a string");
    value = j.get<std::string>();
  } else if constexpr (std::is_enum_v<T>) {
    if (!j.is_string()) wrong_type(j, setting, ("one of " + enum_choices<T>()).c_str());
    value = parse_enum<T>(j.get<std::string>(), setting);
  } else {
    static_assert(is_vector<T>::value, "unsupported configuration field type");
    if (!j.is_array()) wrong_type(j, setting, "a list");
    T out(j.size());
    for (size_t i = 0; i < j.size(); ++i)
      value_from_json(j[i], out[i], setting + "[" + std::to_string(i) + "]");
    value = std::move(out);
  }
}

template <typename T>
void value_from_text(const std::string& text, T& value, const std::string& setting) {
  if constexpr (std::is_same_v<T, bool>) {
    value = bool_from_text(text, setting);
  } else if constexpr (std::is_same_v<T, int64_t>) {
    value = integer_from_text(text, setting);
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    const int64_t v = integer_from_text(text, setting);
    LW_CHECK(v >= 0, setting, " must be >= 0, got ", v);
    value = uint64_t(v);
  } else if constexpr (std::is_same_v<T, double>) {
    value = number_from_text(text, setting);
  } else if constexpr (std::is_same_v<T, std::string>) {
    value = text;
  } else if constexpr (std::is_enum_v<T>) {
    value = parse_enum<T>(text, setting);
  } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    value = integer_list_from_text(text, setting);
  } else {
    static_assert(std::is_same_v<T, std::vector<double>>, "unsupported configuration field type");
    value = number_list_from_text(text, setting);
  }
}

template <typename T>
nlohmann::json value_to_json(const T& value) {
  if constexpr (std::is_enum_v<T>)
    return enum_name(value);
  else
    return value;
}

}  // namespace detail

/// The fields of `config` as a JSON object (those whose rule says written).
template <typename Config>
nlohmann::json fields_to_json(const Config& config) {
  nlohmann::json out = nlohmann::json::object();
  visit_fields(config, [&](const char* name, const auto& value, const FieldRule& rule = {}) {
    if (rule.written) out[name] = detail::value_to_json(value);
  });
  return out;
}

/// Overlays the fields present in `json` onto `config`; refuses what is not a JSON object, unknown
/// keys and values of the wrong type, naming "<section>.<field>".
template <typename Config>
void fields_from_json(Config& config, const nlohmann::json& json, const std::string& section) {
  LW_CHECK(json.is_object(), section, " settings must be a JSON object, got ", json.dump());
  std::set<std::string> known;
  visit_fields(config, [&](const char* name, auto& value, const FieldRule& = {}) {
    known.insert(name);
    const auto it = json.find(name);
    if (it != json.end()) detail::value_from_json(*it, value, section + "." + name);
  });
  for (const auto& item : json.items())
    LW_CHECK(known.count(item.key()), section, ": unknown setting '", item.key(), "'");
}

/// Checks every numeric field against its rule's range: "<section>.<field> must be >= 1, got 0".
template <typename Config>
void check_fields(const Config& config, const std::string& section) {
  visit_fields(config, [&](const char* name, const auto& value, const FieldRule& rule = {}) {
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
      LW_CHECK(rule.admits(double(value)), section, ".", name, " must be ", rule.range_text(),
               ", got ", value);
  });
}

/// True when `Config` has a field called `name`.
template <typename Config>
bool has_field(const Config& config, const std::string& name) {
  bool found = false;
  visit_fields(config, [&](const char* field, const auto&, const FieldRule& = {}) {
    found |= name == field;
  });
  return found;
}

/// The JSON value of field `name` typed on a command line as `text` (read as that field's type);
/// throws naming "<section>.<name>" when the text is not such a value or there is no such field.
template <typename Config>
nlohmann::json field_from_text(Config config, const std::string& name, const std::string& text,
                               const std::string& section) {
  nlohmann::json out;
  visit_fields(config, [&](const char* field, auto& value, const FieldRule& = {}) {
    if (name != field) return;
    detail::value_from_text(text, value, section + "." + name);
    out = detail::value_to_json(value);
  });
  LW_CHECK(!out.is_null(), section, ": unknown setting '", name, "'");
  return out;
}

}  // namespace layerwise
