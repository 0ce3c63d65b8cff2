#include "layerwise/train/checkpoint.h"

#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/config_fields.h"
#include "layerwise/core/crash_point.h"
#include "layerwise/core/error.h"
#include "layerwise/core/safetensors.h"
#include "layerwise/core/staged_folder.h"
#include "layerwise/model/weights.h"

namespace layerwise::train {

namespace {

namespace fs = std::filesystem;

// The files of a checkpoint, named as in the run folder (where they link into the checkpoint).
const char* const kModel = "model.safetensors";
const char* const kOptimizer = "optimizer.safetensors";
const char* const kState = "trainer_state.json";
const char* const kFiles[] = {kModel, kOptimizer, kState};
const char* const kManifest = "manifest.json";

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

// Size and CRC-32 of a file, read in 1 MiB pieces.
std::pair<int64_t, uint32_t> size_and_crc(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  LW_CHECK(in, "cannot read '", path, "'");
  std::vector<char> buffer(1 << 20);
  uLong crc = crc32(0L, Z_NULL, 0);
  int64_t size = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = in.gcount();
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), static_cast<uInt>(got));
    size += got;
  }
  return {size, static_cast<uint32_t>(crc)};
}

nlohmann::json manifest_of(const std::string& folder, int64_t step) {
  nlohmann::json files = nlohmann::json::object();
  for (const char* name : kFiles) {
    const auto [size, crc] = size_and_crc(folder + "/" + name);
    files[name] = {{"bytes", size}, {"crc32", crc}};
  }
  return {{"step", step}, {"files", files}};
}

// The run's model, optimizer and trainer state link through RUN/checkpoint (once; this replaces
// the plain files of runs written before checkpoint folders).
void link_run_files(const RunDir& run) {
  bool changed = false;
  for (const char* name : kFiles) {
    const auto path = run.file(name), target = std::string("checkpoint/") + name;
    std::error_code error;
    if (fs::is_symlink(path, error) && fs::read_symlink(path, error).string() == target) continue;
    replace_with_link(path, target);
    changed = true;
  }
  if (changed) sync_to_disk(run.path());
}

// Keeps the newest `keep` checkpoints (the published one is the newest).
void remove_old_checkpoints(const RunDir& run, int64_t keep) {
  const auto folders = run.checkpoint_folders();
  for (size_t i = size_t(std::max<int64_t>(keep, 1)); i < folders.size(); ++i)
    remove_folder(folders[i].second);
}

TrainerState load_from(const std::string& folder, model::LayeredModel& model, AdamW& optimizer) {
  const auto state = read_trainer_state(folder + "/" + kState);
  const auto model_path = folder + "/" + kModel, optimizer_path = folder + "/" + kOptimizer;
  const auto weights = read_safetensors(model_path);
  const auto moments = read_safetensors(optimizer_path);
  LW_CHECK(metadata_step(weights, model_path) == state.step &&
               metadata_step(moments, optimizer_path) == state.step,
           folder, ": model, optimizer and trainer state are from different steps ",
           "(an interrupted checkpoint); cannot resume");
  model::load_weights(weights.tensors, model, model_path);
  optimizer.load_state(moments.tensors, state.step);
  return state;
}

}  // namespace

void save_checkpoint(const RunDir& run, model::LayeredModel& model, const AdamW& optimizer,
                     const TrainerState& state, int64_t keep) {
  const auto folder = run.checkpoint_folder(state.step), partial = folder + ".partial";
  make_directories(run.checkpoints());
  remove_folder(partial);
  make_directories(partial);
  model::save_weights(partial + "/" + kModel, model, step_metadata(state.step));
  write_safetensors(partial + "/" + kOptimizer, optimizer.state(), step_metadata(state.step));
  write_trainer_state(partial + "/" + kState, state);
  for (const char* name : kFiles) sync_to_disk(partial + "/" + name);
  write_file_atomic(partial + "/" + kManifest, manifest_of(partial, state.step).dump(2) + "\n");
  sync_to_disk(partial + "/" + kManifest);
  sync_to_disk(partial);
  crash_point("checkpoint-written");
  std::error_code error;
  if (fs::exists(folder, error)) {  // the same step again: the new files replace the old
    remove_folder(folder + ".old");
    LW_CHECK(std::rename(folder.c_str(), (folder + ".old").c_str()) == 0, "cannot move '", folder,
             "' aside");
  }
  LW_CHECK(std::rename(partial.c_str(), folder.c_str()) == 0, "cannot move '", partial, "' to '",
           folder, "'");
  sync_to_disk(run.checkpoints());
  crash_point("checkpoint-renamed");
  replace_with_link(run.checkpoint_link(), "checkpoints/" + fs::path(folder).filename().string());
  sync_to_disk(run.path());
  crash_point("checkpoint-published");
  link_run_files(run);
  remove_folder(folder + ".old");
  remove_old_checkpoints(run, keep);
}

bool has_checkpoint(const RunDir& run) {
  std::error_code error;
  return !run.checkpoint_folders().empty() || fs::exists(run.model(), error) ||
         fs::is_symlink(run.model(), error);
}

std::string verify_checkpoint(const std::string& folder) {
  const auto path = folder + "/" + kManifest;
  if (!file_exists(path)) return "no manifest.json";
  try {
    const auto manifest = nlohmann::json::parse(read_file(path));
    for (const char* name : kFiles) {
      const auto& expected = manifest.at("files").at(name);
      if (!file_exists(folder + "/" + name)) return str_cat(name, " is missing");
      const auto [size, crc] = size_and_crc(folder + "/" + name);
      // integer_from_json: a float or a string in the manifest is a malformed manifest (no UB)
      if (size != detail::integer_from_json(expected.at("bytes"), "manifest.json bytes"))
        return str_cat(name, " has ", size, " bytes, the manifest says ", expected.at("bytes"));
      if (int64_t(crc) != detail::integer_from_json(expected.at("crc32"), "manifest.json crc32"))
        return str_cat(name, " does not match its CRC-32 in the manifest");
    }
  } catch (const nlohmann::json::exception& e) {
    return str_cat("manifest.json is malformed (", e.what(), ")");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

RestoredCheckpoint load_checkpoint(const RunDir& run, model::LayeredModel& model,
                                   AdamW& optimizer) {
  std::string problems;
  for (const auto& [step, folder] : run.checkpoint_folders()) {
    const auto why = verify_checkpoint(folder);
    if (why.empty()) return {load_from(folder, model, optimizer), folder};
    problems += str_cat("; ", fs::path(folder).filename().string(), ": ", why);
  }
  std::error_code error;
  const bool legacy = file_exists(run.model()) && !fs::is_symlink(run.model(), error);
  LW_CHECK(legacy, run.path(), ": no complete checkpoint to resume from", problems);
  return {load_from(run.path(), model, optimizer), run.path()};
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
