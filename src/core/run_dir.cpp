#include "layerwise/core/run_dir.h"

#include <nlohmann/json.hpp>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"

namespace layerwise {

RunDir::RunDir(std::string path) : path_(std::move(path)) {
  while (path_.size() > 1 && path_.back() == '/') path_.pop_back();  // "runs/a/" is "runs/a"
}

bool RunDir::is_run() const {
  return has_config() && file_exists(trainer_state());
}

bool RunDir::has_config() const {
  return file_exists(config());
}

bool RunDir::finished() const {
  return is_run() && read_state().finished();
}

TrainerState RunDir::read_state() const {
  const auto path = trainer_state();
  try {
    const auto j = nlohmann::json::parse(read_file(path));
    TrainerState state{j.at("step").get<int64_t>(), j.at("total_steps").get<int64_t>(),
                       j.value("seconds", 0.0)};
    LW_CHECK(state.step >= 0 && state.total_steps >= 0, path, ": negative step counts");
    return state;
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(path, ": not a trainer state (", e.what(), ")"));
  }
}

void RunDir::write_state(const TrainerState& state) const {
  const nlohmann::json j = {{"step", state.step},
                            {"total_steps", state.total_steps},
                            {"seconds", state.seconds},
                            {"finished", state.finished()}};
  write_file_atomic(trainer_state(), j.dump(2) + "\n");
}

}  // namespace layerwise
