#include "layerwise/report/svg.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "layerwise/core/error.h"

namespace layerwise::report {

namespace {

// Viridis sampled at nine evenly spaced points (its published values), interpolated linearly.
constexpr std::array<std::array<int, 3>, 9> kViridis = {{{68, 1, 84},
                                                         {71, 44, 122},
                                                         {59, 81, 139},
                                                         {44, 113, 142},
                                                         {33, 144, 141},
                                                         {39, 173, 129},
                                                         {92, 200, 99},
                                                         {170, 220, 50},
                                                         {253, 231, 37}}};

std::string number(double value, int digits) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.*f", digits, value);
  return buffer;
}

// Black text on light cells, white on dark ones.
std::string text_colour(double t) {
  return t > 0.6 ? "#000" : "#fff";
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // Control characters other than tab, newline and return are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')
          out += "\xEF\xBF\xBD";  // U+FFFD
        else
          out += c;
    }
  }
  return out;
}

std::string colormap(double t) {
  if (!std::isfinite(t)) return "#cccccc";
  t = std::clamp(t, 0.0, 1.0) * (kViridis.size() - 1);
  const size_t i = std::min(static_cast<size_t>(t), kViridis.size() - 2);
  const double f = t - static_cast<double>(i);
  char buffer[8];
  int rgb[3];
  for (int k = 0; k < 3; ++k)
    rgb[k] = static_cast<int>(std::lround(kViridis[i][k] * (1 - f) + kViridis[i + 1][k] * f));
  std::snprintf(buffer, sizeof(buffer), "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return buffer;
}

std::string heatmap_svg(const torch::Tensor& matrix, const std::vector<std::string>& row_labels,
                        const std::vector<std::string>& col_labels, const HeatmapOptions& options) {
  const auto values = matrix.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  LW_CHECK(values.dim() == 2 && values.size(0) == static_cast<int64_t>(row_labels.size()) &&
               values.size(1) == static_cast<int64_t>(col_labels.size()),
           "heatmap: matrix of shape ", values.sizes(), " does not match its labels");
  const int64_t rows = values.size(0), cols = values.size(1);
  const auto* v = values.data_ptr<double>();
  double low = options.low, high = options.high;
  if (low >= high) {
    const auto finite = values.masked_select(torch::isfinite(values));
    low = finite.numel() ? finite.min().item<double>() : 0.0;
    high = finite.numel() ? finite.max().item<double>() : 1.0;
    if (high <= low) high = low + 1e-9;
  }
  const double cell = std::clamp(480.0 / static_cast<double>(std::max(rows, cols)), 6.0, 40.0);
  const double left = 70, top = 40, bar_width = 14;
  const double width = left + cell * cols + 90, height = top + cell * rows + 50;
  const bool annotate = rows <= options.annotate_up_to && cols <= options.annotate_up_to;
  const int64_t label_step = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(12.0 / cell)));

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << number(width, 0) << "\" height=\""
      << number(height, 0) << "\" viewBox=\"0 0 " << number(width, 0) << ' ' << number(height, 0)
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  svg << "<title>" << xml_escape(options.title) << "</title>\n";
  svg << "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";
  svg << "<text x=\"" << number(left, 0) << "\" y=\"20\" font-size=\"14\" font-weight=\"bold\">"
      << xml_escape(options.title) << "</text>\n";
  LW_CHECK(!options.marked.defined() || options.marked.sizes() == matrix.sizes(), "heatmap '",
           options.title, "': marks of shape ", options.marked.sizes(), " for a matrix of ",
           matrix.sizes());
  const auto marks = options.marked.defined()
                         ? options.marked.to(torch::kCPU, torch::kBool).contiguous()
                         : torch::Tensor();
  const auto is_marked = [&](int64_t i, int64_t j) {
    return marks.defined() && marks.data_ptr<bool>()[i * cols + j];
  };
  svg << "<g class=\"cells\">\n";
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      const double value = v[i * cols + j];
      const double t = (value - low) / (high - low);
      const double x = left + cell * j, y = top + cell * i;
      svg << "<rect x=\"" << number(x, 2) << "\" y=\"" << number(y, 2) << "\" width=\""
          << number(cell, 2) << "\" height=\"" << number(cell, 2) << "\" fill=\"" << colormap(t)
          << "\"><title>" << xml_escape(row_labels[i]) << " vs " << xml_escape(col_labels[j])
          << ": " << number(value, 4)
          << (is_marked(i, j) ? " (" + xml_escape(options.marked_meaning) + ")" : "")
          << "</title></rect>\n";
      if (is_marked(i, j))
        svg << "<circle class=\"marked\" cx=\"" << number(x + cell / 2, 2) << "\" cy=\""
            << number(y + cell / 2, 2) << "\" r=\"" << number(std::max(1.5, cell / 4), 2)
            << "\" fill=\"none\" stroke=\"" << text_colour(t) << "\" stroke-width=\"1.2\"/>\n";
      if (annotate && cell >= 22)
        svg << "<text x=\"" << number(x + cell / 2, 2) << "\" y=\"" << number(y + cell / 2 + 3, 2)
            << "\" text-anchor=\"middle\" font-size=\"" << number(std::min(9.0, cell / 3), 1)
            << "\" fill=\"" << text_colour(t) << "\">" << number(value, 2) << "</text>\n";
    }
  }
  svg << "</g>\n<g class=\"labels\">\n";
  for (int64_t i = 0; i < rows; i += label_step)
    svg << "<text x=\"" << number(left - 4, 0) << "\" y=\"" << number(top + cell * (i + 0.5) + 4, 2)
        << "\" text-anchor=\"end\">" << xml_escape(row_labels[i]) << "</text>\n";
  for (int64_t j = 0; j < cols; j += label_step)
    svg << "<text x=\"" << number(left + cell * (j + 0.5), 2) << "\" y=\""
        << number(top + cell * rows + 14, 2) << "\" text-anchor=\"middle\">"
        << xml_escape(col_labels[j]) << "</text>\n";
  svg << "<text x=\"" << number(left + cell * cols / 2, 2) << "\" y=\""
      << number(top + cell * rows + 34, 2) << "\" text-anchor=\"middle\">"
      << xml_escape(options.col_axis) << "</text>\n";
  svg << "<text transform=\"translate(14 " << number(top + cell * rows / 2, 2)
      << ") rotate(-90)\" text-anchor=\"middle\">" << xml_escape(options.row_axis) << "</text>\n";
  svg << "</g>\n<g class=\"colorbar\">\n";
  const double bar_x = left + cell * cols + 16, bar_height = cell * rows;
  const int steps = 32;
  for (int s = 0; s < steps; ++s) {
    const double t = 1.0 - (s + 0.5) / steps;
    svg << "<rect x=\"" << number(bar_x, 2) << "\" y=\"" << number(top + bar_height * s / steps, 2)
        << "\" width=\"" << number(bar_width, 0) << "\" height=\""
        << number(bar_height / steps + 0.5, 2) << "\" fill=\"" << colormap(t) << "\"/>\n";
  }
  svg << "<text x=\"" << number(bar_x + bar_width + 4, 2) << "\" y=\"" << number(top + 8, 2)
      << "\">" << number(high, 3) << "</text>\n";
  svg << "<text x=\"" << number(bar_x + bar_width + 4, 2) << "\" y=\""
      << number(top + bar_height, 2) << "\">" << number(low, 3) << "</text>\n";
  svg << "</g>\n</svg>\n";
  return svg.str();
}

}  // namespace layerwise::report
