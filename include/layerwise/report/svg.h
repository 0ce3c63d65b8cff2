// SVG figures as strings: standalone files for papers and inline figures for the HTML report.
// Output is plain SVG 1.1, valid XML, with no script, font file or external reference.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

namespace layerwise::report {

/// Escapes &, <, >, " and ' for XML text and attributes; control characters that XML forbids
/// become U+FFFD.
std::string xml_escape(const std::string& text);

/// The viridis-like colour (as "#rrggbb") of t in [0, 1]; t is clamped.
std::string colormap(double t);

struct HeatmapOptions {
  std::string title;
  std::string row_axis = "layer of A";
  std::string col_axis = "layer of B";
  /// Colour scale; when low >= high the range of the data is used.
  double low = 0.0;
  double high = 0.0;
  /// Write the value in each cell when the matrix is at most this many rows and columns.
  int64_t annotate_up_to = 16;
  /// (R, C) bool, or undefined: cells marked with a ring (e.g. not distinguishable from the
  /// permutation null), named in `marked_meaning` (the cell's tooltip says it too).
  torch::Tensor marked;
  std::string marked_meaning;
};

/// A heatmap of `matrix` (R, C) with row and column labels, a colour bar and a tooltip per cell.
std::string heatmap_svg(const torch::Tensor& matrix, const std::vector<std::string>& row_labels,
                        const std::vector<std::string>& col_labels, const HeatmapOptions& options);

}  // namespace layerwise::report
