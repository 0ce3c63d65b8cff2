#include "setting_flags.h"

#include "layerwise/core/error.h"
#include "layerwise/train/run_config.h"

namespace layerwise::cli {

namespace {

// "train.epochs" -> the value in {"train": {"epochs": ...}}, as help text ("" when unset).
std::string default_text(const nlohmann::json& defaults, const std::string& setting) {
  const auto dot = setting.find('.');
  const auto section = setting.substr(0, dot), name = setting.substr(dot + 1);
  if (!defaults.contains(section) || !defaults[section].contains(name)) return "";
  const auto& value = defaults[section][name];
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array() && value.empty()) return "";
  return value.dump();
}

// What --help calls the value: the default's JSON type.
std::string type_name(const nlohmann::json& defaults, const std::string& setting) {
  const auto dot = setting.find('.');
  const auto section = setting.substr(0, dot), name = setting.substr(dot + 1);
  if (!defaults.contains(section) || !defaults[section].contains(name)) return "TEXT";
  const auto& value = defaults[section][name];
  if (value.is_number_integer()) return "INT";
  if (value.is_number()) return "FLOAT";
  if (value.is_array()) return "LIST";
  return "TEXT";
}

}  // namespace

SettingFlags::SettingFlags(CLI::App* cmd, nlohmann::json defaults)
    : cmd_(cmd), defaults_(std::move(defaults)) {}

CLI::Option* SettingFlags::add(const std::string& flag, const std::string& setting,
                               const std::string& help) {
  flags_.push_back({flag, setting, std::make_shared<std::string>(), Kind::value});
  auto* option = cmd_->add_option(flag, *flags_.back().text, help);
  option->type_name(type_name(defaults_, setting));
  const auto shown = default_text(defaults_, setting);
  if (!shown.empty()) option->default_str(shown);
  return option;
}

CLI::Option* SettingFlags::add_switch(const std::string& flag, const std::string& setting,
                                      bool value, const std::string& help) {
  flags_.push_back(
      {flag, setting, std::make_shared<std::string>(value ? "true" : "false"), Kind::toggle});
  return cmd_->add_flag(flag, help);
}

void SettingFlags::describe(const std::string& flag, const std::string& setting) {
  flags_.push_back({flag, setting, std::make_shared<std::string>(), Kind::named_only});
}

bool SettingFlags::given(const std::string& flag) const {
  return cmd_->count(flag) > 0;
}

nlohmann::json SettingFlags::settings() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& f : flags_) {
    if (f.kind == Kind::named_only || !given(f.flag)) continue;
    try {
      train::set_setting(out, f.setting, train::setting_from_text(f.setting, *f.text));
    } catch (const Error& e) {
      rethrow_with_flags(e);
    }
  }
  return out;
}

void add_image_flags(SettingFlags& s) {
  s.add("--image-size", "data.resize", "images: resized to S x S per batch (as --resize S,S)")
      ->transform(CLI::Validator(
          [](std::string& text) {
            if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
              return std::string("--image-size takes one whole number of pixels");
            text += "," + text;
            return std::string();
          },
          "S"));
  s.add("--resize", "data.resize",
        "images, per batch: S (the shorter edge to S, aspect kept) or H,W (exactly H x W)");
  s.add("--crop", "data.crop", "images: center crop S or H,W after the resize");
  s.add("--resample", "data.resample", "the resize's filter, as Pillow's: bilinear or bicubic");
  s.add("--channels", "data.channels", "images: 1 (grey, by luma) or 3 (RGB); 0: as stored");
  s.add_switch("--skip-bad-images", "data.skip_bad_images", true,
               "folder: leave unreadable files out (counted in config.json) instead of stopping");
}

void SettingFlags::rethrow_with_flags(const Error& error) const {
  if (dynamic_cast<const EnvironmentError*>(&error))
    throw EnvironmentError(with_flags(error.what()));
  throw Error(with_flags(error.what()));
}

std::string SettingFlags::with_flags(const std::string& message) const {
  std::string out = message;
  for (const auto& f : flags_) {
    if (f.kind == Kind::toggle) continue;  // a toggle names one value, not the setting
    // Each mention of the setting not already followed by its flag.
    const std::string tagged = f.setting + " (" + f.flag + ")";
    for (size_t at = out.find(f.setting); at != std::string::npos;
         at = out.find(f.setting, at + 1)) {
      const size_t end = at + f.setting.size();
      const bool whole = end == out.size() ||
                         !(std::isalnum(static_cast<unsigned char>(out[end])) || out[end] == '_');
      if (!whole || out.compare(at, tagged.size(), tagged) == 0) continue;
      out.insert(end, " (" + f.flag + ")");
    }
  }
  return out;
}

}  // namespace layerwise::cli
