// Line and bar charts as standalone SVG 1.1 strings (valid XML, no script, no external reference):
// the figures of the HTML report, also written as separate files for papers.
#pragma once

#include <string>
#include <vector>

namespace layerwise::report {

/// One line (or set of bars) of a chart. Non-finite values leave a gap.
struct Series {
  std::string name;
  std::vector<double> x;  // line charts: same length as y; bar charts: unused
  std::vector<double> y;
  std::string colour;  // "#rrggbb"; empty: the palette colour of the series' position
  bool dashed = false;
  bool markers = true;  // a dot at every point
  // Line charts: an interval drawn as a shaded band around the line (same length as y), or empty.
  std::vector<double> band_low = {}, band_high = {};
};

/// A point drawn larger, with a label beside it (a calibrated threshold, the minimal depth).
struct Marker {
  double x = 0, y = 0;
  std::string label;
  std::string colour;
};

struct ChartOptions {
  std::string title;
  std::string x_label, y_label;
  double width = 560, height = 340;
  /// Axis ranges; when min >= max the data's range (with a margin) is used.
  double x_min = 0, x_max = 0, y_min = 0, y_max = 0;
  bool integer_x = false;  // ticks on whole numbers only (layers)
  std::vector<Marker> markers;
};

/// The i-th colour of a categorical palette (cycles).
std::string palette(size_t i);

/// Lines through (x, y) of each series, with axes, ticks, grid, a legend and a tooltip per point.
std::string line_chart_svg(const std::vector<Series>& series, const ChartOptions& options);

/// Grouped bars: one group per category, one bar per series (series[k].y[i] for category i).
std::string bar_chart_svg(const std::vector<std::string>& categories,
                          const std::vector<Series>& series, const ChartOptions& options);

/// Round tick positions covering [low, high] (about `target` of them, steps of 1, 2 or 5 x 10^k).
std::vector<double> nice_ticks(double low, double high, int target = 6);

}  // namespace layerwise::report
