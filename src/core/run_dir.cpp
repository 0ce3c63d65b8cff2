#include "layerwise/core/run_dir.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/core/staged_folder.h"

namespace layerwise {

namespace fs = std::filesystem;

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
  return read_trainer_state(trainer_state());
}

void RunDir::write_state(const TrainerState& state) const {
  write_trainer_state(trainer_state(), state);
}

std::string RunDir::checkpoint_folder(int64_t step) const {
  char name[32];
  std::snprintf(name, sizeof name, "step-%09lld", static_cast<long long>(step));
  return checkpoints() + "/" + name;
}

std::vector<std::pair<int64_t, std::string>> RunDir::checkpoint_folders() const {
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(checkpoints(), error)) {
    const auto name = entry.path().filename().string();
    long long step = -1;
    char rest = 0;
    if (entry.is_directory(error) && std::sscanf(name.c_str(), "step-%lld%c", &step, &rest) == 1 &&
        step >= 0)
      out.emplace_back(step, entry.path().string());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return out;
}

void RunDir::remove_stale_temporaries() const {
  // name.tmp.<pid> of a process that is gone (a live one may be writing it now).
  const auto stale = [](const fs::path& p) {
    const auto name = p.filename().string();
    const auto at = name.rfind(".tmp.");
    if (at == std::string::npos) return false;
    const long pid = std::strtol(name.c_str() + at + 5, nullptr, 10);
    return pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH);
  };
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(path_, error))
    if (stale(entry.path())) std::remove(entry.path().c_str());
  for (const auto& entry : fs::directory_iterator(checkpoints(), error)) {
    const auto name = entry.path().filename().string();
    if (name.size() > 8 &&
        (name.rfind(".partial") == name.size() - 8 || name.rfind(".old") == name.size() - 4))
      remove_folder(entry.path().string());
    else if (stale(entry.path()))
      std::remove(entry.path().c_str());
  }
}

TrainerState read_trainer_state(const std::string& path) {
  try {
    const auto j = nlohmann::json::parse(read_file(path));
    // A non-negative integer that fits int64_t (a float such as 1e300 does not convert).
    const auto count = [&](const char* key) {
      const auto& value = j.at(key);
      LW_CHECK(value.is_number_unsigned() && value.get<uint64_t>() <= uint64_t(INT64_MAX), path,
               ": not a trainer state (\"", key, "\" must be a non-negative integer, got ",
               value.is_number() ? value.dump() : value.type_name(), ")");
      return value.get<int64_t>();
    };
    return {count("step"), count("total_steps"), j.value("seconds", 0.0)};
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(path, ": not a trainer state (", e.what(), ")"));
  }
}

void write_trainer_state(const std::string& path, const TrainerState& state) {
  const nlohmann::json j = {{"step", state.step},
                            {"total_steps", state.total_steps},
                            {"seconds", state.seconds},
                            {"finished", state.finished()}};
  write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace layerwise
