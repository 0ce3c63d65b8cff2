// `layerwise report`: one self-contained HTML page (inline SVG figures and CSS, no script, no
// network) for one or more run folders, with every figure also written as a separate SVG file.
#pragma once

#include <string>
#include <vector>

#include "layerwise/report/run_files.h"

namespace layerwise::report {

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
