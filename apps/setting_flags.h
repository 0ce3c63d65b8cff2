// Flags that set a stored setting (train.epochs, data.classes, ...), declared one line each:
//
//   flags.add("--epochs", "train.epochs", "passes over the training split");
//   flags.add_switch("--no-bf16", "train.bf16", false, "CUDA: train in float32");
//
// The flags given become a settings document {"train": {"epochs": 3}, ...} that the library
// resolves (train::resolve_run_config: preset < config file < flags); values are read as the
// setting's type there, and the defaults shown in --help are the configuration's own. Library
// errors name settings ("train.epochs must be >= 1"); with_flags() adds the flag's spelling.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerwise/core/error.h"

namespace layerwise::cli {

class SettingFlags {
 public:
  /// `defaults`: {"model": {...}, "train": {...}, "data": {...}}, the values --help shows.
  SettingFlags(CLI::App* cmd, nlohmann::json defaults);

  /// A flag with a value, read as the setting's type (lists: "0-4,7" or "0.1,0.2").
  CLI::Option* add(const std::string& flag, const std::string& setting, const std::string& help);
  /// A flag without a value that sets `setting` to `value`.
  CLI::Option* add_switch(const std::string& flag, const std::string& setting, bool value,
                          const std::string& help);

  /// The settings of the flags given, typed.
  nlohmann::json settings() const;
  /// Names `flag` in messages about `setting` when the command reads the flag itself.
  void describe(const std::string& flag, const std::string& setting);
  /// True when `flag` was given.
  bool given(const std::string& flag) const;
  /// `message` with "(--flag)" after each setting it names that has a flag.
  std::string with_flags(const std::string& message) const;
  /// Throws `error` again, of the same class, its message with_flags().
  [[noreturn]] void rethrow_with_flags(const Error& error) const;

 private:
  enum class Kind { value, toggle, named_only };  // named_only: in messages, not an option here
  struct Flag {
    std::string flag, setting;
    std::shared_ptr<std::string> text;  // the value as typed ("true" / "false" for toggles)
    Kind kind = Kind::value;
  };
  CLI::App* cmd_;
  nlohmann::json defaults_;
  std::vector<Flag> flags_;
};

/// The flags of the image pipeline (data.resize, crop, resample, channels, skip_bad_images) and
/// --image-size S (data.resize S,S), shared by the commands that read image data.
void add_image_flags(SettingFlags& flags);

}  // namespace layerwise::cli
