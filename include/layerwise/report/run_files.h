// What a run folder holds for the report: its configuration, training log and result files.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace layerwise::report {

/// Each JSON is null when its file is absent.
struct RunFiles {
  std::string dir;   // as given
  std::string name;  // short label: the folder name (made unique by write_report)
  nlohmann::json config, eval, similarity, exit;
  std::vector<nlohmann::json> train_log;  // metrics.jsonl lines with a training "loss"
  std::vector<nlohmann::json> val_log;    // metrics.jsonl lines with "val_accuracy"
};

/// Reads config.json (required: the folder must be a run) and whichever of metrics.jsonl,
/// eval.json, similarity.json and exit.json exist. Throws naming the file that is unreadable.
RunFiles read_run_files(const std::string& dir);

}  // namespace layerwise::report
