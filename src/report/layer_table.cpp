#include "layerwise/report/layer_table.h"

#include <algorithm>
#include <cmath>

#include "layerwise/report/page_parts.h"

namespace layerwise::report {

namespace {

using nlohmann::json;

// Parameters and forward FLOPs of the model cut after each layer, one entry per layer.
struct DepthCosts {
  std::vector<double> parameters, flops;
  bool operator==(const DepthCosts& o) const {
    return parameters == o.parameters && flops == o.flops;
  }
};

// eval.json's costs; empty when absent (an eval.json of an older version) or not one per layer.
DepthCosts depth_costs_of(const json& eval, size_t layers) {
  DepthCosts costs{numbers(eval.value("depth_parameters", json::array())),
                   numbers(eval.value("depth_flops", json::array()))};
  if (costs.parameters.size() != layers || costs.flops.size() != layers) return {};
  return costs;
}

// Runs whose models cost the same at every depth share one pair of columns.
struct CostColumns {
  std::vector<std::string> runs;
  DepthCosts costs;
};

void add_costs(std::vector<CostColumns>& groups, const std::string& run, const DepthCosts& costs) {
  if (costs.parameters.empty()) return;
  const auto it = std::find_if(groups.begin(), groups.end(),
                               [&costs](const CostColumns& g) { return g.costs == costs; });
  if (it != groups.end())
    it->runs.push_back(run);
  else
    groups.push_back({{run}, costs});
}

}  // namespace

std::string layer_table_html(const std::vector<RunFiles>& runs) {
  std::vector<std::string> headers = {"layer"};
  std::vector<std::vector<double>> columns;  // accuracy (%) per layer, one per table column
  std::vector<std::string> depth_row = {"minimal depth"}, saturation_row = {"mean saturation"};
  std::vector<CostColumns> costs;
  size_t evaluated = 0, max_layers = 0;
  for (const auto& r : runs) {
    if (r.eval.is_null()) continue;
    ++evaluated;
    const auto acc = numbers(r.eval.at("accuracy"), 100);
    max_layers = std::max(max_layers, acc.size());
    headers.push_back(r.name);
    columns.push_back(acc);
    depth_row.push_back(json_cell(r.eval.value("minimal_depth", json())));
    saturation_row.push_back(format_number(number(r.eval, "mean_saturation_layer"), 2));
    if (r.eval.contains("last_head")) {
      headers.push_back(r.name + " (last head)");
      columns.push_back(numbers(r.eval["last_head"].at("accuracy"), 100));
      depth_row.push_back("");
      saturation_row.push_back("");
    }
    add_costs(costs, r.name, depth_costs_of(r.eval, acc.size()));
  }
  if (evaluated == 0) return "";
  std::vector<std::vector<std::string>> rows;
  for (size_t l = 0; l < max_layers; ++l) {
    std::vector<std::string> row = {std::to_string(l + 1)};
    for (const auto& c : columns) row.push_back(l < c.size() ? format_number(c[l], 2) : "");
    for (const auto& g : costs) {
      const bool has = l < g.costs.parameters.size();
      row.push_back(has ? format_si(g.costs.parameters[l]) : "");
      row.push_back(has ? format_si(g.costs.flops[l]) : "");
    }
    rows.push_back(row);
  }
  // One pair of cost columns per distinct model, named by its runs unless every run shares it.
  const bool shared = costs.size() == 1 && costs[0].runs.size() == evaluated;
  for (const auto& g : costs) {
    std::string names;
    for (const auto& name : g.runs) names += (names.empty() ? "" : ", ") + name;
    headers.push_back(shared ? "parameters" : "parameters (" + names + ")");
    headers.push_back(shared ? "FLOPs / sample" : "FLOPs / sample (" + names + ")");
    depth_row.insert(depth_row.end(), 2, "");
    saturation_row.insert(saturation_row.end(), 2, "");
  }
  rows.push_back(depth_row);
  rows.push_back(saturation_row);
  std::string html = table(headers, rows);
  if (!costs.empty())
    html +=
        "<p class=\"note\">Parameters and FLOPs at layer K: the model cut after block K "
        "(layerwise export --depth K): embeddings, K blocks and the head that reads layer K. "
        "FLOPs: one sample's forward matrix products, a multiply-add counted as 2.</p>\n";
  return html;
}

}  // namespace layerwise::report
