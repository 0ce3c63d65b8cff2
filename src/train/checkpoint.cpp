#include "layerwise/train/checkpoint.h"

#include "layerwise/core/atomic_file.h"
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
  return std::stoll(it->second);
}

}  // namespace

TrainerState read_trainer_state(const std::string& run_dir) {
  const std::string path = run_dir + "/trainer_state.json";
  try {
    const auto j = nlohmann::json::parse(read_file(path));
    return {j.at("step").get<int64_t>(), j.at("total_steps").get<int64_t>(),
            j.value("seconds", 0.0)};
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(path, ": not a trainer state (", e.what(), ")"));
  }
}

void save_checkpoint(const std::string& run_dir, model::LayeredModel& model, const AdamW& optimizer,
                     const TrainerState& state) {
  model::save_weights(run_dir + "/model.safetensors", model, step_metadata(state.step));
  write_safetensors(run_dir + "/optimizer.safetensors", optimizer.state(),
                    step_metadata(state.step));
  const nlohmann::json j = {{"step", state.step},
                            {"total_steps", state.total_steps},
                            {"seconds", state.seconds},
                            {"finished", state.finished()}};
  write_file_atomic(run_dir + "/trainer_state.json", j.dump(2) + "\n");
}

TrainerState load_checkpoint(const std::string& run_dir, model::LayeredModel& model,
                             AdamW& optimizer) {
  const auto state = read_trainer_state(run_dir);
  const std::string model_path = run_dir + "/model.safetensors";
  const std::string optimizer_path = run_dir + "/optimizer.safetensors";
  const auto weights = read_safetensors(model_path);
  const auto moments = read_safetensors(optimizer_path);
  LW_CHECK(metadata_step(weights, model_path) == state.step &&
               metadata_step(moments, optimizer_path) == state.step,
           run_dir, ": model, optimizer and trainer_state.json are from different steps ",
           "(an interrupted checkpoint); cannot resume");
  model::load_weights(weights.tensors, model, model_path);
  optimizer.load_state(moments.tensors, state.step);
  return state;
}

LoadedRun load_run(const std::string& run_dir, const torch::Device& device) {
  LoadedRun run;
  run.config = read_run_config(run_dir);
  run.model = model::make_model(run.config.model);
  const std::string path = run_dir + "/model.safetensors";
  const auto weights = read_safetensors(path);
  model::load_weights(weights.tensors, *run.model, path);
  run.state = read_trainer_state(run_dir);
  run.model->to(device);
  run.model->eval();
  return run;
}

}  // namespace layerwise::train
