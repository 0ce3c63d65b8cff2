// The report's layer-wise table: per layer, every evaluated run's accuracy (multi-head runs also
// through their last head), then what the model cut after that layer costs, as eval.json records
// it (depth_parameters, depth_flops: model/depth_cost.h), and the rows minimal depth and mean
// saturation, so that a reader picks the depth for a budget (layerwise export --depth K).
#pragma once

#include <string>
#include <vector>

#include "layerwise/report/run_files.h"

namespace layerwise::report {

/// The table as HTML, with its note on the cost columns; "" when no run has an eval.json.
std::string layer_table_html(const std::vector<RunFiles>& runs);

}  // namespace layerwise::report
