// libFuzzer target: the configuration readers (model, train and data settings, the way config.json
// and --config files are read) on arbitrary bytes. Any input must either load or raise
// layerwise::Error (invalid JSON included); anything else is a finding.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "layerwise/core/config_fields.h"
#include "layerwise/core/error.h"
#include "layerwise/data/task_data.h"
#include "layerwise/model/config.h"
#include "layerwise/train/run_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto json = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return 0;
  const auto section = [&](const char* name) {
    return json.contains(name) ? json[name] : json;  // a run's config.json, or one section
  };
  try {
    auto model = layerwise::model::model_config_from_json(section("model"));
    (void)layerwise::model::to_json(model);
  } catch (const layerwise::Error&) {
  }
  try {
    layerwise::train::TrainConfig train;
    layerwise::fields_from_json(train, section("train"), "train");
    layerwise::check_fields(train, "train");
    (void)layerwise::fields_to_json(train);
  } catch (const layerwise::Error&) {
  }
  try {
    layerwise::data::DataConfig data;
    layerwise::fields_from_json(data, section("data"), "data");
    layerwise::check_fields(data, "data");
    (void)layerwise::fields_to_json(data);
  } catch (const layerwise::Error&) {
  }
  return 0;
}
