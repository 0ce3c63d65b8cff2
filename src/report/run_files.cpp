#include "layerwise/report/run_files.h"

#include <filesystem>
#include <fstream>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/core/run_dir.h"

namespace layerwise::report {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json_if_present(const std::string& path) {
  if (!file_exists(path)) return nullptr;
  try {
    return json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw Error(str_cat(path, ": not valid JSON (", e.what(), ")"));
  }
}

}  // namespace

RunFiles read_run_files(const std::string& dir) {
  RunFiles run;
  run.dir = dir;
  const RunDir files(dir);
  LW_CHECK(files.has_config(), dir,
           ": not a run folder (no config.json; make one with layerwise train)");
  run.config = read_json_if_present(files.config());
  run.eval = read_json_if_present(files.eval());
  run.similarity = read_json_if_present(files.similarity());
  run.exit = read_json_if_present(files.exit());
  const std::string metrics = files.metrics();
  if (file_exists(metrics)) {
    std::ifstream in(metrics);
    std::string line;
    for (int64_t number = 1; std::getline(in, line); ++number) {
      if (line.empty()) continue;
      json j;
      try {
        j = json::parse(line);
      } catch (const json::exception&) {
        throw Error(str_cat(metrics, ":", number, ": not valid JSON"));
      }
      if (j.contains("val_accuracy")) run.val_log.push_back(j);
      if (j.contains("loss") && j.contains("step")) run.train_log.push_back(j);
    }
  }
  auto path = fs::absolute(dir).lexically_normal();  // "runs/a/", "..", "." all named
  if (path.filename().empty()) path = path.parent_path();
  run.name = path.filename().string();
  return run;
}

}  // namespace layerwise::report
