#include "layerwise/train/run_config.h"

#include <algorithm>
#include <filesystem>
#include <iterator>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/core/version.h"
#include "layerwise/train/pretrained.h"

namespace layerwise::train {

void validate(const TrainConfig& c) {
  check_fields(c, "train");
  LW_CHECK(c.min_lr <= c.lr, "train.min_lr must not exceed train.lr, got ", c.min_lr, " and ",
           c.lr);
  LW_CHECK(c.layer_weighting == LayerWeighting::custom || c.layer_weights.empty(),
           "train.layer_weights are given but train.layer_weighting is ", c.layer_weighting,
           "; set it to custom");
  LW_CHECK(c.layer_weighting != LayerWeighting::learned || c.last_weight_boost == 1,
           "train.last_weight_boost does not apply to learned layer weights (got ",
           c.last_weight_boost, "); leave it at 1");
  LW_CHECK(c.layer_weighting == LayerWeighting::learned ||
               c.weight_lr_scale == TrainConfig{}.weight_lr_scale,
           "train.weight_lr_scale applies to learned layer weights only, but "
           "train.layer_weighting is ",
           c.layer_weighting);
  LW_CHECK(c.distill == 0 || c.objective != Objective::standard,
           "train.distill needs a classifier read after every layer: objective aligned or "
           "multihead, not standard");
}

int64_t run_sample_tokens(const RunConfig& c) {
  return c.model.is_text() ? std::min(c.model.max_len, c.data.max_len) : 0;
}

WeightSchedule weight_schedule(const TrainConfig& c) {
  return {c.layer_weighting, c.layer_weights, c.weight_rate, c.last_weight_boost};
}

nlohmann::json to_json(const TrainConfig& c) {
  return fields_to_json(c);
}

TrainConfig train_config_from_json(const nlohmann::json& j, TrainConfig c) {
  fields_from_json(c, j, "train");
  return c;
}

nlohmann::json to_json(const RunConfig& c) {
  return {{"objective", enum_name(c.train.objective)},
          {"model", model::to_json(c.model)},
          {"train", to_json(c.train)},
          {"data", data::to_json(c.data)},
          {"version", version_string()}};
}

RunConfig run_config_from_json(const nlohmann::json& j) {
  LW_CHECK(j.is_object() && j.contains("model") && j.contains("train") && j.contains("data"),
           "run config needs the objects model, train and data");
  RunConfig c;
  c.model = model::model_config_from_json(j.at("model"));
  c.train = train_config_from_json(j.at("train"));
  c.data = data::data_config_from_json(j.at("data"));
  LW_CHECK(!j.contains("objective") || j.at("objective") == enum_name(c.train.objective),
           "run config: objective ", j.at("objective"), " differs from train.objective");
  LW_CHECK(c.model.heads == head_mode_for(c.train.objective), "run config: objective ",
           c.train.objective, " needs model heads ", head_mode_for(c.train.objective));
  return c;
}

namespace {

const char* const kSections[] = {"model", "train", "data"};

// A config file's sections over `c`: a model preset by name or model settings, train, data.
// Returns the file's own sections (empty objects where it has none).
void apply_config_file(const RunConfigSources& s, RunConfig& c) {
  const auto& f = s.file;
  try {
    LW_CHECK(f.is_object(), "a config file holds a JSON object with model, train and data");
    for (const auto& item : f.items())  // a run's config.json also holds objective and version
      LW_CHECK(item.key() == "objective" || item.key() == "version" ||
                   std::count(std::begin(kSections), std::end(kSections), item.key()),
               "unknown section '", item.key(), "'; a config file holds model, train and data");
    if (f.contains("model") && s.preset.empty())
      c.model = f["model"].is_string() ? model::model_preset(f["model"].get<std::string>())
                                       : model::model_config_from_json(f["model"]);
    if (f.contains("train")) c.train = train_config_from_json(f["train"]);
    if (f.contains("data")) c.data = data::data_config_from_json(f["data"]);
  } catch (const Error& e) {
    throw Error(str_cat(s.file_name, ": ", e.what()));
  }
}

// True when the file or the settings set `section.name` explicitly.
bool given(const RunConfigSources& s, const char* section, const char* name) {
  const auto in = [&](const nlohmann::json& j) {
    return j.is_object() && j.contains(section) && j[section].is_object() &&
           j[section].contains(name);
  };
  return in(s.file) || in(s.settings);
}

// A model to start from: its architecture (only dropout may change) and pixel normalization.
void start_from_init(const RunConfigSources& s, RunConfig& c) {
  LW_CHECK(s.preset.empty(), "a model preset cannot change the architecture of the train.init ",
           "model '", s.init, "'");
  if (s.settings.contains("model"))
    for (const auto& item : s.settings["model"].items())
      LW_CHECK(item.key() == "dropout", "model.", item.key(),
               " cannot change the architecture of the train.init model '", s.init, "'");
  c.model = pretrained_model_config(s.init);
  c.train.init = std::filesystem::absolute(s.init).lexically_normal().string();  // resumable
  // Images made model-ready as the model was trained, unless the settings say how.
  const auto& d = c.data;
  if (d.mean == 0 && d.std == 0 && d.channel_std.empty() && d.resize.empty() && d.crop.empty())
    pretrained_image_pipeline(s.init, c.data);
}

// Text models read text: spam-assassin unless a text dataset is set, the task their architecture
// learns, no image augmentation, sequences as long as the model's unless set shorter.
void apply_text_defaults(const RunConfigSources& s, RunConfig& c) {
  if (!c.data.is_text()) c.data.dataset = data::Dataset::spam_assassin;
  c.data.task = c.model.arch == model::Arch::text_decoder ? data::Task::lm : data::Task::classify;
  if (!given(s, "train", "augment")) c.train.augment = Augment::none;
  const bool max_len_given = given(s, "data", "max_len");
  if (max_len_given && c.train.init.empty()) c.model.max_len = c.data.max_len;
  c.data.max_len = max_len_given ? std::min(c.model.max_len, c.data.max_len) : c.model.max_len;
  if (!c.train.init.empty()) {  // the ids the model learned
    LW_CHECK(!given(s, "data", "tokenizer"), "data.tokenizer: a model started from train.init ",
             "keeps its tokenizer");
    c.data.tokenizer = pretrained_tokenizer(c.train.init);
  }
}

}  // namespace

RunConfig resolve_run_config(const RunConfigSources& s) {
  LW_CHECK(s.settings.is_object(), "settings must be a JSON object");
  for (const auto& item : s.settings.items())
    LW_CHECK(std::count(std::begin(kSections), std::end(kSections), item.key()),
             "unknown settings section '", item.key(), "'; use model, train or data");
  RunConfig c;
  c.model = model::model_preset(s.preset.empty() ? "small" : s.preset);
  if (!s.file.is_null()) apply_config_file(s, c);
  if (!s.init.empty()) start_from_init(s, c);
  const auto section = [&](const char* name) {
    return s.settings.value(name, nlohmann::json::object());
  };
  fields_from_json(c.model, section("model"), "model");
  fields_from_json(c.train, section("train"), "train");
  fields_from_json(c.data, section("data"), "data");
  LW_CHECK(!c.train.fresh_head || !c.train.init.empty(), "train.fresh_head goes with train.init");
  if (c.model.is_text()) apply_text_defaults(s, c);
  validate(c.train);
  data::validate(c.data);
  // The layer weights now rather than after loading the data.
  layer_weights(weight_schedule(c.train), c.model.n_layers);
  return c;
}

nlohmann::json setting_from_text(const std::string& setting, const std::string& text) {
  const auto dot = setting.find('.');
  const auto section = setting.substr(0, dot), name = setting.substr(dot + 1);
  LW_CHECK(dot != std::string::npos, "setting '", setting,
           "' has no section (model., train., data.)");
  if (section == "model") return field_from_text(model::ModelConfig{}, name, text, section);
  if (section == "train") return field_from_text(TrainConfig{}, name, text, section);
  if (section == "data") return field_from_text(data::DataConfig{}, name, text, section);
  throw Error(str_cat("setting '", setting, "': unknown section; use model, train or data"));
}

void set_setting(nlohmann::json& settings, const std::string& setting, nlohmann::json value) {
  const auto dot = setting.find('.');
  LW_CHECK(dot != std::string::npos, "setting '", setting,
           "' has no section (model., train., data.)");
  settings[setting.substr(0, dot)][setting.substr(dot + 1)] = std::move(value);
}

RunConfig read_run_config(const std::string& run_dir) {
  const std::string path = RunDir(run_dir).config();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(path, ": not valid JSON (", e.what(), ")"));
  }
  try {
    return run_config_from_json(j);
  } catch (const Error& e) {
    throw Error(str_cat(path, ": ", e.what()));
  }
}

void write_run_config(const std::string& run_dir, const RunConfig& config) {
  write_file_atomic(RunDir(run_dir).config(), to_json(config).dump(2) + "\n");
}

}  // namespace layerwise::train
