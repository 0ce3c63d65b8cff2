#include "layerwise/train/checkpoint.h"

#include "layerwise/core/config_fields.h"
#include "layerwise/core/error.h"
#include "layerwise/core/safetensors.h"
#include "layerwise/model/weights.h"

namespace layerwise::train {

namespace {

std::map<std::string, std::string> step_metadata(int64_t step) {
  return {{"step", std::to_string(step)}, {"format", "layerwise"}};
}

int64_t metadata_step(const SafetensorsFile& file, const std::string& path) {
  const auto it = file.metadata.find("step");
  LW_CHECK(it != file.metadata.end(), path,
           ": no 'step' in the metadata (not a layerwise checkpoint)");
  try {
    return detail::integer_from_text(it->second, "step");
  } catch (const Error&) {
    throw Error(str_cat(path, ": metadata step '", it->second.substr(0, 40),
                        "' is not an integer (not a layerwise checkpoint)"));
  }
}

}  // namespace

void save_checkpoint(const RunDir& run, model::LayeredModel& model, const AdamW& optimizer,
                     const TrainerState& state) {
  model::save_weights(run.model(), model, step_metadata(state.step));
  write_safetensors(run.optimizer(), optimizer.state(), step_metadata(state.step));
  run.write_state(state);
}

TrainerState load_checkpoint(const RunDir& run, model::LayeredModel& model, AdamW& optimizer) {
  const auto state = run.read_state();
  const std::string model_path = run.model();
  const std::string optimizer_path = run.optimizer();
  const auto weights = read_safetensors(model_path);
  const auto moments = read_safetensors(optimizer_path);
  LW_CHECK(metadata_step(weights, model_path) == state.step &&
               metadata_step(moments, optimizer_path) == state.step,
           run.path(), ": model, optimizer and trainer state are from different steps ",
           "(an interrupted checkpoint); cannot resume");
  model::load_weights(weights.tensors, model, model_path);
  optimizer.load_state(moments.tensors, state.step);
  return state;
}

LoadedRun load_run(const std::string& run_dir, const torch::Device& device) {
  LoadedRun run;
  const RunDir dir(run_dir);
  run.config = read_run_config(run_dir);
  run.model = model::make_model(run.config.model);
  const auto weights = read_safetensors(dir.model());
  model::load_weights(weights.tensors, *run.model, dir.model());
  run.state = dir.read_state();
  run.model->to(device);
  run.model->eval();
  return run;
}

}  // namespace layerwise::train
