#include "layerwise/report/html_report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <torch/torch.h>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/core/staged_folder.h"
#include "layerwise/core/version.h"
#include "layerwise/report/charts.h"
#include "layerwise/report/layer_table.h"
#include "layerwise/report/page_parts.h"
#include "layerwise/report/similarity_matrices.h"
#include "layerwise/report/svg.h"

namespace layerwise::report {

namespace fs = std::filesystem;

namespace {

using nlohmann::json;

class ReportBuilder {
 public:
  ReportBuilder(const std::vector<RunFiles>& runs, std::string report_dir)
      : runs_(runs), report_dir_(std::move(report_dir)) {}

  Report build() {
    std::ostringstream body;
    body << runs_section() << training_section() << accuracy_section() << similarity_section()
         << exit_section() << files_section();
    std::ostringstream html;
    html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         << "<title>layerwise report</title>\n<style>\n"
         << kStyle << "</style>\n</head>\n<body>\n"
         << "<h1>layerwise report</h1>\n<p class=\"meta\">" << runs_.size() << " run"
         << (runs_.size() == 1 ? "" : "s") << " &middot; layerwise " << xml_escape(version_string())
         << "</p>\n<nav><a href=\"#runs\">Runs</a> "
         << "<a href=\"#training\">Training</a> <a href=\"#accuracy\">Layer-wise accuracy</a> "
         << "<a href=\"#similarity\">Similarity</a> <a href=\"#exit\">Early exit</a> "
         << "<a href=\"#files\">Files</a></nav>\n"
         << body.str() << "</body>\n</html>\n";
    return {html.str(), figures_};
  }

 private:
  static constexpr const char* kStyle =
      "body{font-family:sans-serif;margin:24px auto;max-width:1240px;color:#222;padding:0 16px}\n"
      "h1{margin-bottom:4px}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:36px}\n"
      ".meta{color:#666;margin-top:0}nav a{margin-right:14px}\n"
      ".grid{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}\n"
      "figure{margin:8px 0}figcaption{font-size:12px;color:#555;max-width:560px}\n"
      "table{border-collapse:collapse;font-size:12px;margin:8px 0 16px}\n"
      "th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f4f4f4}\n"
      "td:first-child,th:first-child{text-align:left}.note{color:#777;font-style:italic}\n";

  std::string figure(const std::string& name, const std::string& caption, std::string svg) {
    // File names stay unique even where two runs' names differ only in characters made '_'.
    std::string file = safe_name(name);
    for (int n = 2; std::any_of(figures_.begin(), figures_.end(),
                                [&](const Figure& f) { return f.name == file; });
         ++n)
      file = safe_name(name) + "-" + std::to_string(n);
    figures_.push_back({file, caption, svg});
    return "<figure>" + svg + "<figcaption>" + xml_escape(caption) + "</figcaption></figure>\n";
  }

  // A link to a run's file, relative to the page (paths compared as written, symbolic links not
  // followed; a file:// URL where no relative path exists), each segment percent-encoded.
  std::string link(const RunFiles& run, const std::string& file) const {
    const fs::path target = fs::path(run.dir) / file;
    if (!file_exists(target.string())) return "";
    const auto page_dir = fs::absolute(report_dir_.empty() ? "." : report_dir_).lexically_normal();
    const auto absolute = fs::absolute(target).lexically_normal();
    const auto relative = absolute.lexically_relative(page_dir);
    std::string href;
    for (const auto& segment : relative.empty() ? absolute.relative_path() : relative)
      href += (href.empty() ? "" : "/") + percent_encode(segment.string());
    if (relative.empty()) href = "file:///" + href;
    return "<a href=\"" + xml_escape(href) + "\">" + xml_escape(file) + "</a>";
  }

  static std::string none(const std::string& what) {
    return "<p class=\"note\">No run has " + what + ".</p>\n";
  }

  std::string runs_section() const {
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : runs_) {
      const auto& m = r.config.value("model", json::object());
      const auto& t = r.config.value("train", json::object());
      const auto& d = r.config.value("data", json::object());
      rows.push_back({r.name, json_cell(r.config.value("objective", json())),
                      json_cell(m.value("arch", json())), json_cell(m.value("n_layers", json())),
                      json_cell(m.value("d_model", json())), json_cell(m.value("n_heads", json())),
                      json_cell(m.value("pool", json())), json_cell(d.value("dataset", json())),
                      json_cell(t.value("epochs", json())),
                      json_cell(t.value("batch_size", json())), json_cell(t.value("lr", json())),
                      json_cell(t.value("weight_decay", json())),
                      json_cell(t.value("augment", json())),
                      r.eval.is_null() ? "" : percent(r.eval.value("final_accuracy", json()))});
    }
    return "<section id=\"runs\"><h2>Runs</h2>\n" +
           table({"run", "objective", "arch", "layers", "d_model", "heads", "pool", "data",
                  "epochs", "batch", "lr", "weight decay", "augment", "final accuracy (%)"},
                 rows) +
           "</section>\n";
  }

  std::string training_section() {
    std::vector<Series> loss, val;
    for (size_t k = 0; k < runs_.size(); ++k) {
      const auto& r = runs_[k];
      std::vector<double> steps, values;
      for (const auto& line : r.train_log) {
        steps.push_back(number(line, "step"));
        values.push_back(number(line, "loss"));
      }
      auto [x, y] = downsample_series(steps, values, 300);
      loss.push_back({r.name, x, y, palette(k), false, false});
      Series v{r.name, {}, {}, palette(k)};
      for (const auto& line : r.val_log) {
        const auto acc = numbers(line.at("val_accuracy"), 100);
        if (acc.empty()) continue;
        v.x.push_back(number(line, "step"));
        v.y.push_back(acc.back());
      }
      val.push_back(v);
    }
    std::string html = "<section id=\"training\"><h2>Training</h2>\n<div class=\"grid\">\n";
    bool any = false;
    if (std::any_of(loss.begin(), loss.end(), [](const Series& s) { return !s.x.empty(); })) {
      ChartOptions o;
      o.title = "Training loss";
      o.x_label = "step";
      o.y_label = "loss (objective, mean over the logged steps)";
      html += figure("training_loss", "Training loss from metrics.jsonl (averaged to 300 points).",
                     line_chart_svg(loss, o));
      any = true;
    }
    if (std::any_of(val.begin(), val.end(), [](const Series& s) { return !s.x.empty(); })) {
      ChartOptions o;
      o.title = "Validation accuracy, last layer";
      o.x_label = "step";
      o.y_label = "accuracy (%)";
      html += figure("validation_accuracy",
                     "Accuracy of the last layer's classifier on the validation split during "
                     "training.",
                     line_chart_svg(val, o));
      any = true;
    }
    html += "</div>\n";
    if (!any) html += none("a metrics.jsonl");
    return html + "</section>\n";
  }

  std::string accuracy_section() {
    std::vector<Series> series, perplexity, saturation;
    ChartOptions o;
    o.title = "Layer-wise accuracy of the classifier";
    o.x_label = "layer";
    o.y_label = "accuracy (%)";
    o.integer_x = true;
    size_t max_layers = 0;
    for (size_t k = 0; k < runs_.size(); ++k) {
      const auto& e = runs_[k].eval;
      if (e.is_null()) continue;
      const auto acc = numbers(e.at("accuracy"), 100);
      max_layers = std::max(max_layers, acc.size());
      series.push_back({runs_[k].name, one_to(acc.size()), acc, palette(k)});
      if (e.contains("last_head")) {
        const auto last = numbers(e["last_head"].at("accuracy"), 100);
        series.push_back(
            {runs_[k].name + " (last head)", one_to(last.size()), last, palette(k), true});
      }
      // Compared as a double first: converting NaN or 1e300 to int64_t is undefined.
      const double depth_value = number(e, "minimal_depth");
      const int64_t depth =
          depth_value >= 1 && depth_value <= double(acc.size()) ? int64_t(depth_value) : 0;
      if (depth >= 1 && size_t(depth) <= acc.size())
        o.markers.push_back(
            {double(depth), acc[depth - 1], "min depth " + std::to_string(depth), palette(k)});
      if (e.contains("perplexity")) {
        const auto p = numbers(e["perplexity"]);
        perplexity.push_back({runs_[k].name, one_to(p.size()), p, palette(k)});
      }
      const auto histogram = numbers(e.value("saturation_layer_histogram", json::array()));
      double total = 0;
      for (double h : histogram) total += h;
      std::vector<double> share;
      for (double h : histogram) share.push_back(total > 0 ? 100 * h / total : NAN);
      saturation.push_back({runs_[k].name, {}, share, palette(k)});
    }
    std::string html = "<section id=\"accuracy\"><h2>Layer-wise accuracy</h2>\n";
    if (series.empty()) return html + none("an eval.json (run layerwise eval)") + "</section>\n";
    html += "<div class=\"grid\">\n" +
            figure("layerwise_accuracy",
                   "The last layer's classifier applied after every layer (multi-head runs: each "
                   "layer's own head; dashed: their last head on every layer). Circles: the "
                   "minimal depth, the first layer within the tolerance of the final accuracy.",
                   line_chart_svg(series, o));
    if (!perplexity.empty()) {
      ChartOptions p = o;
      p.title = "Layer-wise perplexity";
      p.y_label = "perplexity";
      p.markers.clear();
      html += figure("layerwise_perplexity",
                     "Next-token perplexity of the last layer's head applied after every layer.",
                     line_chart_svg(perplexity, p));
    }
    std::vector<std::string> layers;
    for (size_t l = 1; l <= max_layers; ++l) layers.push_back(std::to_string(l));
    for (auto& s : saturation) s.y.resize(max_layers, NAN);
    ChartOptions b;
    b.title = "Saturation layer";
    b.x_label = "layer from which the top-1 prediction no longer changes";
    b.y_label = "samples (%)";
    html += figure("saturation_layers",
                   "Per sample, the earliest layer from which the prediction stays the same.",
                   bar_chart_svg(layers, saturation, b)) +
            "</div>\n";
    html += layer_table_html(runs_);
    return html + "</section>\n";
  }

  std::string similarity_section() {
    std::string html = "<section id=\"similarity\"><h2>Similarity between layers</h2>\n";
    const auto matrices = read_similarity_matrices(runs_);
    if (matrices.empty())
      return html + none("a similarity.json (run layerwise similarity)") + "</section>\n";
    // Similarity of each layer to the last one (the last column): COS solid, others dashed.
    std::vector<Series> to_last;
    std::vector<std::string> metrics;  // COS first, as the matrices
    for (const auto& m : matrices) {
      if (std::find(metrics.begin(), metrics.end(), m.metric) == metrics.end())
        metrics.push_back(m.metric);
      const auto last_column = [&](const torch::Tensor& matrix) {  // (rows)
        const auto last = matrix.select(1, matrix.size(1) - 1).contiguous();
        return std::vector<double>(last.data_ptr<double>(), last.data_ptr<double>() + last.numel());
      };
      Series series{runs_[m.run].name + " " + m.metric, layer_numbers(m.rows),
                    last_column(m.values), palette(m.run), m.metric != "cos"};
      if (m.ci_low.defined() && m.ci_high.defined()) {  // the bootstrap interval as a band
        series.band_low = last_column(m.ci_low);
        series.band_high = last_column(m.ci_high);
      }
      to_last.push_back(std::move(series));
    }
    ChartOptions o;
    o.title = "Similarity of each layer to the last";
    o.x_label = "layer (row of the matrix)";
    o.y_label = "similarity to the last layer";
    o.integer_x = true;
    html += "<div class=\"grid\">\n" +
            figure("similarity_to_last",
                   "The last column of each matrix: COS solid, the other measures dashed; "
                   "shaded: the bootstrap interval where the run has one (--bootstrap).",
                   line_chart_svg(to_last, o)) +
            "</div>\n";
    std::vector<std::string> headers = {"run"};
    for (const auto& metric : metrics)
      if (metric != "cos") headers.push_back(metric);
    std::vector<std::vector<std::string>> rows;
    for (const auto& run : runs_) {
      if (run.similarity.is_null()) continue;
      std::vector<std::string> row = {run.name};
      const auto correlations = run.similarity.value("correlation_with_cos", json::object());
      for (size_t c = 1; c < headers.size(); ++c)
        row.push_back(format_number(number(correlations, headers[c].c_str()), 3));
      rows.push_back(row);
    }
    html +=
        "<h3>Pearson correlation of each matrix with the COS matrix</h3>\n" + table(headers, rows);
    // The same once every matrix is calibrated against its permutation null (--null).
    std::vector<std::vector<std::string>> calibrated_rows;
    for (const auto& run : runs_) {
      if (run.similarity.is_null() || !run.similarity.contains("calibrated_correlation_with_cos"))
        continue;
      std::vector<std::string> row = {run.name};
      const auto correlations = run.similarity.at("calibrated_correlation_with_cos");
      for (size_t c = 1; c < headers.size(); ++c)
        row.push_back(format_number(number(correlations, headers[c].c_str()), 3));
      calibrated_rows.push_back(row);
    }
    if (!calibrated_rows.empty())
      html += "<h3>The same, between the null-calibrated matrices (s - null) / (1 - null)</h3>\n" +
              table(headers, calibrated_rows);
    // Heatmaps, one row per measure, on one colour scale per measure so that runs compare.
    for (const auto& metric : metrics) {
      double low = INFINITY, high = -INFINITY;
      for (const auto& m : matrices)
        if (m.metric == metric) {
          const auto finite = m.values.masked_select(torch::isfinite(m.values));
          if (finite.numel() == 0) continue;
          low = std::min(low, finite.min().item<double>());
          high = std::max(high, finite.max().item<double>());
        }
      html += "<div class=\"grid\">\n";
      for (const auto& m : matrices) {
        if (m.metric != metric) continue;
        const auto& run = runs_[m.run];
        HeatmapOptions h;
        h.title = run.name + ": " + metric;
        h.low = low;
        h.high = high;
        if (m.p_value.defined()) {  // --null: cells the permutation null explains
          h.marked = m.p_value >= 0.05;
          h.marked_meaning = "not distinguishable from the permutation null, p >= 0.05";
        }
        html += figure(
            "heatmap_" + run.name + "_" + metric,
            run.name + ", " + metric + " between every pair of layers (" +
                json_cell(run.similarity.value("n_samples", json())) +
                " samples; one colour scale for every run" +
                (m.p_value.defined() ? "; ringed: not distinguishable from the permutation null, "
                                       "p >= 0.05)."
                                     : ")."),
            heatmap_svg(m.values, m.rows, m.cols, h));
      }
      html += "</div>\n";
    }
    return html + "</section>\n";
  }

  std::string exit_section() {
    std::string html = "<section id=\"exit\"><h2>Early exit</h2>\n";
    std::vector<Series> curves;
    ChartOptions o;
    o.title = "Accuracy against speed-up";
    o.x_label = "speed-up in layers (L / mean exit layer)";
    o.y_label = "accuracy (%)";
    std::vector<std::vector<std::string>> chosen_rows, timing_rows;
    for (size_t k = 0; k < runs_.size(); ++k) {
      const auto& e = runs_[k].exit;
      if (e.is_null()) continue;
      std::vector<std::pair<double, double>> points;
      for (const auto& p : e.at("points")) {
        const double x = number(p, "speedup_layers"), y = 100 * number(p, "accuracy");
        if (std::isfinite(x) && std::isfinite(y)) points.push_back({x, y});
      }
      std::sort(points.begin(), points.end());
      Series s{
          runs_[k].name + " (" + e.value("policy", "") + ", " + e.value("heads", "") + " heads)",
          {},
          {},
          palette(k)};
      for (const auto& [x, y] : points) {
        s.x.push_back(x);
        s.y.push_back(y);
      }
      curves.push_back(s);
      const auto& c = e.at("chosen");
      o.markers.push_back({number(c, "speedup_layers"), 100 * number(c, "accuracy"),
                           "t = " + json_cell(c.at("threshold")), palette(k)});
      chosen_rows.push_back({runs_[k].name, e.value("policy", ""), json_cell(c.at("threshold")),
                             percent(c.at("accuracy")), percent(e.at("full_accuracy")),
                             format_number(number(c, "mean_exit_layer"), 2),
                             format_number(number(c, "speedup_layers"), 2),
                             format_number(number(c, "flops_ratio"), 3)});
      for (const auto& t : c.value("timing", json::array()))
        timing_rows.push_back({runs_[k].name, json_cell(t.value("device", json())),
                               json_cell(t.value("batch_size", json())),
                               json_cell(t.value("schedule", json("batch"))),
                               format_number(number(t, "speedup_layers"), 2),
                               format_number(number(t, "speedup_wall"), 2),
                               format_number(100 * number(t, "efficiency"), 0)});
    }
    if (curves.empty()) return html + none("an exit.json (run layerwise exit)") + "</section>\n";
    html += "<div class=\"grid\">\n" +
            figure("exit_curves",
                   "Each point a threshold of the policy on the evaluation split; circles: the "
                   "threshold calibrated on the validation split.",
                   line_chart_svg(curves, o)) +
            "</div>\n<h3>Calibrated operating points</h3>\n" +
            table({"run", "policy", "threshold", "accuracy (%)", "full depth (%)",
                   "mean exit layer", "speed-up (layers)", "FLOPs ratio"},
                  chosen_rows);
    if (!timing_rows.empty())
      html += "<h3>Measured wall-clock speed-up</h3>\n" +
              table({"run", "device", "batch", "schedule", "speed-up (layers)", "speed-up (wall)",
                     "efficiency (%)"},
                    timing_rows);
    return html + "</section>\n";
  }

  std::string files_section() const {
    std::string html = "<section id=\"files\"><h2>Files</h2>\n<ul>\n";
    for (const auto& r : runs_) {
      html += "<li>" + xml_escape(r.name) + ":";
      const RunDir dir(r.dir);
      for (const auto& path :
           {dir.config(), dir.metrics(), dir.eval(), dir.similarity(), dir.exit(),
            dir.file("cos.csv"), dir.file("cka_linear.csv"), dir.model()}) {
        const auto a = link(r, path.substr(dir.path().size() + 1));
        if (!a.empty()) html += " " + a;
      }
      html += "</li>\n";
    }
    return html + "</ul>\n</section>\n";
  }

  const std::vector<RunFiles>& runs_;
  std::string report_dir_;
  std::vector<Figure> figures_;
};

}  // namespace

Report build_report(const std::vector<RunFiles>& runs, const std::string& report_dir) {
  LW_CHECK(!runs.empty(), "report: no runs given");
  return ReportBuilder(runs, report_dir).build();
}

std::vector<std::string> write_report(const std::vector<std::string>& run_dirs,
                                      const std::string& out) {
  std::vector<RunFiles> runs;
  std::set<std::string> taken;
  for (const auto& dir : run_dirs) {
    runs.push_back(read_run_files(dir));
    auto& name = runs.back().name;
    const auto base = name;
    for (int n = 2; taken.count(name); ++n) name = base + "-" + std::to_string(n);
    taken.insert(name);
  }
  const fs::path out_path(out);
  const std::string report_dir =
      out_path.has_parent_path() ? out_path.parent_path().string() : std::string(".");
  make_directories(report_dir);
  Report report;
  try {
    report = build_report(runs, report_dir);
  } catch (const nlohmann::json::exception& e) {  // a run file of another layout or version
    throw Error(str_cat("report: a run file lacks what the report reads (", e.what(), ")"));
  }
  // The figures whole (staged, then swapped for the previous ones), then the page that shows them.
  const fs::path figure_dir = out_path.parent_path() / (out_path.stem().string() + "_figures");
  StagedFolder figures(figure_dir.string(), StagedFolder::Existing::replace);
  std::vector<std::string> paths;
  for (const auto& f : report.figures) {
    write_file_atomic(figures.path() + "/" + f.name + ".svg",
                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + f.svg);
    paths.push_back((figure_dir / (f.name + ".svg")).string());
  }
  figures.commit();
  write_file_atomic(out, report.html);
  return paths;
}

}  // namespace layerwise::report
