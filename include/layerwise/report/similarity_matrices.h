// The similarity matrices of the runs of a report, as similarity.json holds them: values and, for
// runs whose similarity ran with --bootstrap or --null, the interval and p-value of every entry.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "layerwise/report/run_files.h"

namespace layerwise::report {

/// One measure's matrix of one run.
struct SimilarityMatrix {
  size_t run;  // index into the runs
  std::string metric;
  torch::Tensor values;  // (rows, cols) float64
  std::vector<std::string> rows, cols;
  torch::Tensor ci_low, ci_high, p_value;  // (rows, cols) from "statistics", or undefined
};

/// Every run's matrices, COS first, then the other measures in name order. Throws
/// layerwise::Error naming the file and measure whose rows do not fit layers_a and layers_b.
std::vector<SimilarityMatrix> read_similarity_matrices(const std::vector<RunFiles>& runs);

}  // namespace layerwise::report
