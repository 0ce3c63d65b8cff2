// `layerwise report`: one self-contained HTML page (inline SVG figures and CSS, no script, no
// network) for one or more run folders, with every figure also written as a separate SVG file.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace layerwise::report {

/// What a run folder holds for the report; each JSON is null when its file is absent.
struct RunFiles {
  std::string dir;   // as given
  std::string name;  // short label: the folder name, made unique
  nlohmann::json config, eval, similarity, exit;
  std::vector<nlohmann::json> train_log;  // metrics.jsonl lines with a training "loss"
  std::vector<nlohmann::json> val_log;    // metrics.jsonl lines with "val_accuracy"
};

/// Reads config.json (required: the folder must be a run) and whichever of metrics.jsonl,
/// eval.json, similarity.json and exit.json exist. Throws naming the file that is unreadable.
RunFiles read_run_files(const std::string& dir);

struct Figure {
  std::string name;  // file stem: "layerwise_accuracy", "cos_aligned", ...
  std::string caption;
  std::string svg;
};

struct Report {
  std::string html;
  std::vector<Figure> figures;
};

/// The page for `runs` (in the given order); links to the runs' files are relative to
/// `report_dir`, the folder the page will be written to.
Report build_report(const std::vector<RunFiles>& runs, const std::string& report_dir);

/// Reads the runs, builds the report and writes `out` (atomically) and its figures as
/// <out without .html>_figures/<name>.svg. Returns the figure paths.
std::vector<std::string> write_report(const std::vector<std::string>& run_dirs,
                                      const std::string& out);

}  // namespace layerwise::report
