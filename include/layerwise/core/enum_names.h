// Closed sets of values (a model's architecture, a dataset, a pooling rule) are enums in C++ and
// strings in config files, result files and on the command line. Each enum lists its spellings
// once, in a specialization of EnumNames:
//
//   template <> struct EnumNames<Arch> {
//     static constexpr std::pair<Arch, const char*> values[] = {{Arch::vit, "vit"}, ...};
//   };
//
// and enum_name, parse_enum and enum_choices come from that table.
#pragma once

#include <iterator>
#include <string>
#include <type_traits>
#include <utility>

#include "layerwise/core/error.h"

namespace layerwise {

// EnumNames<E> (specialize with `static constexpr std::pair<E, const char*> values[]`) and the
// has_enum_names trait are declared in core/error.h, whose messages print enums by name.

/// The spelling of `value` in files and on the command line.
template <typename E>
const char* enum_name(E value) {
  for (const auto& [v, name] : EnumNames<E>::values)
    if (v == value) return name;
  return "?";
}

/// "a, b or c": the spellings, for help texts and error messages.
template <typename E>
std::string enum_choices() {
  std::string out;
  const size_t n = std::size(EnumNames<E>::values);
  for (size_t i = 0; i < n; ++i)
    out += std::string(i == 0 ? "" : i + 1 == n ? " or " : ", ") + EnumNames<E>::values[i].second;
  return out;
}

/// The value spelled `name`; throws layerwise::Error "<setting> 'x' is not known; use a, b or c".
template <typename E>
E parse_enum(const std::string& name, const std::string& setting) {
  for (const auto& [v, spelling] : EnumNames<E>::values)
    if (name == spelling) return v;
  throw Error(str_cat(setting, " '", name, "' is not known; use ", enum_choices<E>()));
}

}  // namespace layerwise
