#include <iostream>

#include "cli.h"
#include "layerwise/report/html_report.h"

namespace layerwise::cli {

namespace {

struct ReportFlags {
  std::vector<std::string> run_dirs;
  std::string out = "report.html";
};

void add_options(CLI::App& app, ReportFlags& f) {
  auto* cmd = app.add_subcommand("report", "One HTML page with the figures of one or more runs");
  cmd->footer(
      "Reads each RUN's config.json, metrics.jsonl, eval.json, similarity.json and exit.json\n"
      "(whichever exist) and writes one self-contained page (inline SVG, no script, no network):\n"
      "  runs          configuration of each run\n"
      "  training      loss and validation accuracy against step\n"
      "  accuracy      layer-wise accuracy of all runs on one plot with the minimal depth marked,\n"
      "                saturation-layer histograms, the numbers in a table\n"
      "  similarity    similarity of each layer to the last, one heatmap per run and measure\n"
      "  early exit    accuracy against speed-up with the calibrated operating points, timings\n"
      "Every figure is also written as an SVG file in <OUT stem>_figures/.\n\n"
      "Example:\n"
      "  layerwise report runs/standard runs/aligned runs/multihead -o runs/report.html");
  cmd->add_option("RUN", f.run_dirs, "run folders (from layerwise train)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out,-o", f.out, "the HTML file to write")->capture_default_str();
}

int run(ReportFlags& f, const GlobalFlags& global) {
  const auto figures = report::write_report(f.run_dirs, f.out);
  if (!global.quiet)
    std::cerr << figures.size() << " figures, also as SVG files in "
              << (figures.empty() ? std::string("-")
                                  : figures.front().substr(0, figures.front().rfind('/')))
              << "\n";
  std::cout << f.out << "\n";
  return 0;
}

}  // namespace

Runner add_report(CLI::App& app) {
  return make_subcommand<ReportFlags>(app, add_options, run);
}

}  // namespace layerwise::cli
