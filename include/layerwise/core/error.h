// Errors: the one exception type for bad input, and the check macro that throws it.
//
// Library code throws layerwise::Error with a message that names the file, tensor or setting at
// fault and what was expected; EnvironmentError when the machine failed rather than the input (a
// full disk). The CLI catches them at the top, prints the message on one line and exits with 2 (3
// for the environment); docs/ERRORS.md lists them.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace layerwise {

// Enums with a table of spellings (core/enum_names.h) print by name in messages.
template <typename E>
struct EnumNames;
template <typename E, typename = void>
struct has_enum_names : std::false_type {};
template <typename E>
struct has_enum_names<E, std::void_t<decltype(EnumNames<E>::values)>> : std::true_type {};
template <typename E>
const char* enum_name(E value);

/// Bad input or bad usage: something the user can fix. The message is one line, ready to print.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// The environment failed: no space left on the disk, memory exhausted. One line, ready to print.
class EnvironmentError : public Error {
 public:
  using Error::Error;
};

namespace detail {
inline void append_all(std::ostringstream&) {}
template <typename T, typename... Rest>
void append_all(std::ostringstream& out, const T& first, const Rest&... rest) {
  if constexpr (has_enum_names<T>::value)
    out << enum_name(first);
  else
    out << first;
  append_all(out, rest...);
}
}  // namespace detail

/// Concatenates the arguments with operator<< into one string.
template <typename... Parts>
std::string str_cat(const Parts&... parts) {
  std::ostringstream out;
  detail::append_all(out, parts...);
  return out.str();
}

}  // namespace layerwise

/// LW_CHECK(cond, "part", value, "part"...): throws layerwise::Error with the parts concatenated.
#define LW_CHECK(cond, ...)                                                   \
  do {                                                                        \
    if (!(cond)) throw ::layerwise::Error(::layerwise::str_cat(__VA_ARGS__)); \
  } while (false)
