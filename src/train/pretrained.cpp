#include "layerwise/train/pretrained.h"

#include <map>
#include <tuple>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/data/hf_image_processor.h"
#include "layerwise/data/text_codec.h"
#include "layerwise/model/hf_checkpoint.h"
#include "layerwise/model/weights.h"
#include "layerwise/train/checkpoint.h"
#include "layerwise/train/run_config.h"

namespace layerwise::train {

namespace {

bool is_run_dir(const std::string& path) {
  return RunDir(path).is_run();
}

void check_folder(const std::string& path) {
  LW_CHECK(is_run_dir(path) || model::is_hf_checkpoint_dir(path), "train.init '", path,
           "' is neither a layerwise run folder (config.json + trainer_state.json) nor a Hugging ",
           "Face checkpoint folder (config.json with a model_type)");
}

}  // namespace

model::ModelConfig pretrained_model_config(const std::string& path) {
  check_folder(path);
  if (is_run_dir(path)) return read_run_config(path).model;
  return model::read_hf_config(path).model;
}

data::TokenizerKind pretrained_tokenizer(const std::string& path) {
  LW_CHECK(pretrained_model_config(path).is_text(), path, " is not a text model: no tokenizer");
  if (is_run_dir(path)) return read_run_config(path).data.tokenizer;
  return model::read_hf_config(path).family == model::HfFamily::bert
             ? data::TokenizerKind::wordpiece
             : data::TokenizerKind::gpt2;
}

void copy_tokenizer_files(const std::string& path, const std::string& run_dir) {
  const RunDir from(path), to(run_dir);
  std::vector<std::string> names;
  for (auto kind : {data::TokenizerKind::wordpiece, data::TokenizerKind::gpt2})
    for (const auto& name : data::hf_tokenizer_files(kind)) names.push_back(name);
  if (from.is_run()) names.push_back("tokenizer.json");  // layerwise's own (not HF's file)
  for (const auto& name : names)
    if (file_exists(from.file(name))) write_file_atomic(to.file(name), read_file(from.file(name)));
}

bool pretrained_image_pipeline(const std::string& path, data::DataConfig& data) {
  const auto model = pretrained_model_config(path);
  if (model.is_text()) return false;
  if (is_run_dir(path)) {
    const auto trained = read_run_config(path).data;
    if (trained.std <= 0 && trained.channel_std.empty()) return false;
    data.mean = trained.mean;
    data.std = trained.std;
    data.resize = trained.resize;
    data.crop = trained.crop;
    data.resample = trained.resample;
    data.channels = trained.channels;
    data.channel_mean = trained.channel_mean;
    data.channel_std = trained.channel_std;
    return true;
  }
  if (!file_exists(path + "/preprocessor_config.json")) return false;
  data::apply_image_processor(data::read_hf_image_processor(path), model.in_channels, data);
  return true;
}

Pretrained load_pretrained(const std::string& path) {
  check_folder(path);
  Pretrained out;
  if (is_run_dir(path)) {
    out.model = load_run(path, torch::kCPU).model;
  } else {
    auto imported = model::import_hf(path);
    out.model = imported.model;
    out.notes = imported.notes;
  }
  return out;
}

std::string copy_pretrained(model::LayeredModel& source, model::LayeredModel& target,
                            bool fresh_head) {
  std::map<std::string, torch::Tensor> from;
  for (auto& [name, tensor] : model::named_weights(source)) from[name] = tensor;
  std::vector<std::string> fresh;
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : model::named_weights(target)) {
    const bool head = name.rfind("classifier.", 0) == 0 || name.rfind("exit_heads.", 0) == 0;
    const auto it = from.find(name);
    const bool usable = it != from.end() && it->second.sizes() == tensor.sizes();
    if (head && (fresh_head || !usable)) {
      fresh.push_back(name);
      continue;
    }
    LW_CHECK(it != from.end(), "train.init: the pretrained model has no tensor '", name, "'");
    LW_CHECK(usable, "train.init: tensor '", name, "' has shape ", it->second.sizes(),
             " in the pretrained model, ", tensor.sizes(), " here");
    tensor.copy_(it->second.to(tensor.device()));
  }
  if (fresh.empty()) return "";
  std::string note = "initialized fresh:";
  for (const auto& name : fresh) note += " " + name;
  return note;
}

}  // namespace layerwise::train
