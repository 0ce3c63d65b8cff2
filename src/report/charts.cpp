#include "layerwise/report/charts.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "layerwise/core/error.h"
#include "layerwise/report/page_parts.h"
#include "layerwise/report/svg.h"

namespace layerwise::report {

namespace {

constexpr double kLeft = 60, kRight = 16, kLegendTop = 38, kBottom = 46, kLegendRow = 16;

// A tick label without needless zeros: 0.5, 12, 1e-05.
std::string tick_label(double value) {
  if (std::abs(value) < 1e-12) return "0";
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "%.4g", value);
  return buffer;
}

struct Range {
  double low = std::numeric_limits<double>::infinity();
  double high = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  // The given range if set, else the data's with a 5% margin; never empty.
  Range resolved(double given_low, double given_high) const {
    if (given_low < given_high) return {given_low, given_high};
    Range r = *this;
    if (!std::isfinite(r.low)) r = {0, 1};
    const double margin = r.high > r.low ? 0.05 * (r.high - r.low) : 0.5;
    return {r.low - margin, r.high + margin};
  }
};

// Maps data coordinates to the plot area of a chart.
struct Frame {
  double width, height, plot_top;
  Range x, y;
  double left() const { return kLeft; }
  double right() const { return width - kRight; }
  double top() const { return plot_top; }
  double bottom() const { return height - kBottom; }
  double px(double v) const { return left() + (v - x.low) / (x.high - x.low) * (right() - left()); }
  double py(double v) const {
    return bottom() - (v - y.low) / (y.high - y.low) * (bottom() - top());
  }
};

std::string colour_of(const Series& s, size_t i) {
  return s.colour.empty() ? palette(i) : s.colour;
}

void open_svg(std::ostringstream& svg, const ChartOptions& options) {
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"lw-chart\" width=\""
      << format_number(options.width, 0) << "\" height=\"" << format_number(options.height, 0)
      << "\" viewBox=\"0 0 " << format_number(options.width, 0) << ' '
      << format_number(options.height, 0)
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n<title>" << xml_escape(options.title)
      << "</title>\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n<text x=\""
      << format_number(kLeft, 0) << "\" y=\"18\" font-size=\"13\" font-weight=\"bold\">"
      << xml_escape(options.title) << "</text>\n";
}

// The legend as rows of entries above the plot; returns the plot's top edge.
double legend(std::ostringstream& svg, const std::vector<Series>& series, double width) {
  double x = kLeft, y = kLegendTop;
  svg << "<g class=\"legend\">\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const double entry = 28 + 6.5 * double(series[i].name.size());
    if (x + entry > width - kRight && x > kLeft) {
      x = kLeft;
      y += kLegendRow;
    }
    svg << "<line x1=\"" << format_number(x) << "\" y1=\"" << format_number(y - 4) << "\" x2=\""
        << format_number(x + 18) << "\" y2=\"" << format_number(y - 4) << "\" stroke=\""
        << colour_of(series[i], i) << "\" stroke-width=\"3\""
        << (series[i].dashed ? " stroke-dasharray=\"5 3\"" : "") << "/>\n<text x=\""
        << format_number(x + 22) << "\" y=\"" << format_number(y) << "\">"
        << xml_escape(series[i].name) << "</text>\n";
    x += entry;
  }
  svg << "</g>\n";
  return y + 12;
}

void axes(std::ostringstream& svg, const Frame& f, const ChartOptions& options, bool x_ticks) {
  svg << "<g class=\"axes\" stroke=\"#999\">\n";
  for (double t : nice_ticks(f.y.low, f.y.high)) {
    svg << "<line x1=\"" << format_number(f.left()) << "\" y1=\"" << format_number(f.py(t))
        << "\" x2=\"" << format_number(f.right()) << "\" y2=\"" << format_number(f.py(t))
        << "\" stroke=\"#e4e4e4\"/>\n<text x=\"" << format_number(f.left() - 5) << "\" y=\""
        << format_number(f.py(t) + 4) << "\" text-anchor=\"end\" stroke=\"none\" fill=\"#333\">"
        << tick_label(t) << "</text>\n";
  }
  if (x_ticks) {
    auto ticks = nice_ticks(f.x.low, f.x.high);
    if (options.integer_x) {  // whole numbers: each of them up to 16, else the round ones
      const double first = std::ceil(f.x.low), last = std::floor(f.x.high);
      if (last - first <= 15) {
        ticks.clear();
        // Counted, not `++t` up to last: from 2^53 on, t + 1 == t and that loop never ends.
        for (int k = 0; k <= int(last - first); ++k) ticks.push_back(first + k);
      } else {
        ticks.erase(
            std::remove_if(ticks.begin(), ticks.end(), [](double t) { return t != std::round(t); }),
            ticks.end());
      }
    }
    for (double t : ticks)
      svg << "<line x1=\"" << format_number(f.px(t)) << "\" y1=\"" << format_number(f.bottom())
          << "\" x2=\"" << format_number(f.px(t)) << "\" y2=\"" << format_number(f.bottom() + 4)
          << "\"/>\n<text x=\"" << format_number(f.px(t)) << "\" y=\""
          << format_number(f.bottom() + 16)
          << "\" text-anchor=\"middle\" stroke=\"none\" fill=\"#333\">" << tick_label(t)
          << "</text>\n";
  }
  svg << "<rect x=\"" << format_number(f.left()) << "\" y=\"" << format_number(f.top())
      << "\" width=\"" << format_number(f.right() - f.left()) << "\" height=\""
      << format_number(f.bottom() - f.top()) << "\" fill=\"none\"/>\n</g>\n";
  svg << "<text x=\"" << format_number((f.left() + f.right()) / 2) << "\" y=\""
      << format_number(f.height - 10) << "\" text-anchor=\"middle\">" << xml_escape(options.x_label)
      << "</text>\n";
  svg << "<text transform=\"translate(14 " << format_number((f.top() + f.bottom()) / 2)
      << ") rotate(-90)\" text-anchor=\"middle\">" << xml_escape(options.y_label) << "</text>\n";
}

}  // namespace

std::string palette(size_t i) {
  static const std::array<const char*, 10> colours = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                                      "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                                      "#bcbd22", "#17becf"};
  return colours[i % colours.size()];
}

std::vector<double> nice_ticks(double low, double high, int target) {
  if (!(high > low) || !std::isfinite(low) || !std::isfinite(high)) return {low};
  const double raw = (high - low) / std::max(1, target);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  std::vector<double> ticks;
  const auto first = int64_t(std::ceil(low / step - 1e-9));
  for (int64_t k = first; double(k) * step <= high + 1e-9 * step; ++k) {
    // Rounded to the step's decimals, so that 0.1 * 3 prints and compares as 0.3.
    const double digits = std::pow(10.0, std::max(0.0, -std::floor(std::log10(step))));
    ticks.push_back(std::round(double(k) * step * digits) / digits);
  }
  return ticks;
}

namespace {

// A series' interval as one shaded polygon: along the upper bounds, back along the lower ones
// (points without a finite interval are left out).
void band(std::ostringstream& svg, const Frame& f, const Series& s, const std::string& colour) {
  std::vector<size_t> points;
  for (size_t i = 0; i < s.x.size(); ++i)
    if (std::isfinite(s.x[i]) && std::isfinite(s.band_low[i]) && std::isfinite(s.band_high[i]))
      points.push_back(i);
  if (points.size() < 2) return;
  svg << "<path class=\"band\" d=\"";
  for (size_t k = 0; k < points.size(); ++k)
    svg << (k ? " L" : "M") << format_number(f.px(s.x[points[k]])) << ' '
        << format_number(f.py(s.band_high[points[k]]));
  for (size_t k = points.size(); k-- > 0;)
    svg << " L" << format_number(f.px(s.x[points[k]])) << ' '
        << format_number(f.py(s.band_low[points[k]]));
  svg << " Z\" fill=\"" << colour << "\" fill-opacity=\"0.15\" stroke=\"none\"/>\n";
}

}  // namespace

std::string line_chart_svg(const std::vector<Series>& series, const ChartOptions& options) {
  Range xs, ys;
  for (const auto& s : series) {
    LW_CHECK(s.x.size() == s.y.size(), "line chart '", options.title, "': series '", s.name,
             "' has ", s.x.size(), " x and ", s.y.size(), " y values");
    LW_CHECK(s.band_low.size() == s.band_high.size() &&
                 (s.band_low.empty() || s.band_low.size() == s.y.size()),
             "line chart '", options.title, "': series '", s.name, "' has a band of ",
             s.band_low.size(), " and ", s.band_high.size(), " values for ", s.y.size(), " points");
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
        xs.add(s.x[i]);
        ys.add(s.y[i]);
        if (!s.band_low.empty() && std::isfinite(s.band_low[i]) && std::isfinite(s.band_high[i])) {
          ys.add(s.band_low[i]);
          ys.add(s.band_high[i]);
        }
      }
  }
  for (const auto& m : options.markers) {
    xs.add(m.x);
    ys.add(m.y);
  }
  std::ostringstream svg;
  open_svg(svg, options);
  const double plot_top = legend(svg, series, options.width);
  const Frame f{options.width, options.height, plot_top, xs.resolved(options.x_min, options.x_max),
                ys.resolved(options.y_min, options.y_max)};
  axes(svg, f, options, true);
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    const auto colour = colour_of(s, k);
    svg << "<g class=\"series\" data-name=\"" << xml_escape(s.name) << "\">\n";
    if (!s.band_low.empty()) band(svg, f, s, colour);
    svg << "<path d=\"";
    bool pen_down = false;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        pen_down = false;
        continue;
      }
      svg << (pen_down ? " L" : " M") << format_number(f.px(s.x[i])) << ' '
          << format_number(f.py(s.y[i]));
      pen_down = true;
    }
    svg << "\" fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\""
        << (s.dashed ? " stroke-dasharray=\"6 4\"" : "") << "/>\n";
    if (s.markers)
      for (size_t i = 0; i < s.x.size(); ++i)
        if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]))
          svg << "<circle cx=\"" << format_number(f.px(s.x[i])) << "\" cy=\""
              << format_number(f.py(s.y[i])) << "\" r=\"2.5\" fill=\"" << colour << "\"><title>"
              << xml_escape(s.name) << ": " << tick_label(s.x[i]) << ", "
              << format_number(s.y[i], 4) << "</title></circle>\n";
    svg << "</g>\n";
  }
  for (const auto& m : options.markers) {
    if (!std::isfinite(m.x) || !std::isfinite(m.y)) continue;  // nothing to point at
    const auto colour = m.colour.empty() ? "#000" : m.colour;
    svg << "<g class=\"marker\"><circle cx=\"" << format_number(f.px(m.x)) << "\" cy=\""
        << format_number(f.py(m.y)) << "\" r=\"6\" fill=\"none\" stroke=\"" << colour
        << "\" stroke-width=\"2\"><title>" << xml_escape(m.label) << "</title></circle><text x=\""
        << format_number(f.px(m.x) + 8) << "\" y=\"" << format_number(f.py(m.y) - 8) << "\" fill=\""
        << colour << "\">" << xml_escape(m.label) << "</text></g>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

std::string bar_chart_svg(const std::vector<std::string>& categories,
                          const std::vector<Series>& series, const ChartOptions& options) {
  Range ys;
  ys.add(0);
  for (const auto& s : series) {
    LW_CHECK(s.y.size() == categories.size(), "bar chart '", options.title, "': series '", s.name,
             "' has ", s.y.size(), " values for ", categories.size(), " categories");
    for (double v : s.y) ys.add(v);
  }
  std::ostringstream svg;
  open_svg(svg, options);
  const double plot_top = legend(svg, series, options.width);
  Range y = ys.resolved(options.y_min, options.y_max);
  y.low = std::min(0.0, y.low);
  const Frame f{options.width, options.height, plot_top, {0, double(categories.size())}, y};
  axes(svg, f, options, false);
  const double group = (f.right() - f.left()) / std::max<size_t>(1, categories.size());
  const double bar = 0.8 * group / std::max<size_t>(1, series.size());
  const size_t label_step = std::max<size_t>(1, size_t(std::ceil(18.0 / group)));
  for (size_t i = 0; i < categories.size(); ++i)
    if (i % label_step == 0)
      svg << "<text x=\"" << format_number(f.left() + group * (i + 0.5)) << "\" y=\""
          << format_number(f.bottom() + 16) << "\" text-anchor=\"middle\">"
          << xml_escape(categories[i]) << "</text>\n";
  for (size_t k = 0; k < series.size(); ++k) {
    svg << "<g class=\"series\" data-name=\"" << xml_escape(series[k].name) << "\" fill=\""
        << colour_of(series[k], k) << "\">\n";
    for (size_t i = 0; i < categories.size(); ++i) {
      const double v = series[k].y[i];
      if (!std::isfinite(v)) continue;
      const double x = f.left() + group * i + 0.1 * group + bar * k;
      const double top = f.py(std::max(v, 0.0)), base = f.py(std::min(v, 0.0));
      svg << "<rect x=\"" << format_number(x) << "\" y=\"" << format_number(top) << "\" width=\""
          << format_number(bar) << "\" height=\"" << format_number(std::max(base - top, 0.0))
          << "\"><title>" << xml_escape(series[k].name) << ", " << xml_escape(categories[i]) << ": "
          << tick_label(v) << "</title></rect>\n";
    }
    svg << "</g>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace layerwise::report
