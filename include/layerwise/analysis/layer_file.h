// Loading the layers of one model from a safetensors file that any framework wrote.
//
// Every floating-point tensor in the file is a layer, N x D or N x T x D (token dimension pooled,
// see pooling.h). Layers are ordered by the integer in their names: "layer.0", "h3",
// "blocks.11.out" all work. When names hold several integers, the one position that differs between
// names orders them.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "layerwise/analysis/layers.h"
#include "layerwise/analysis/pooling.h"

namespace layerwise::analysis {

struct LayerFile {
  std::vector<std::string> names;  // tensor names, in layer order
  std::vector<int64_t> numbers;    // the integer that ordered each name
  Layers layers;                   // (N, D_l) each, float32 or float64, on the requested device
};

/// Orders tensor names by their layer number; returns the permutation and fills `numbers`.
/// Throws layerwise::Error (naming `path`) when names carry no usable integer or two share one.
std::vector<size_t> order_layer_names(const std::vector<std::string>& names,
                                      std::vector<int64_t>& numbers, const std::string& path);

/// Parses a layer selection such as "0,2,4-8" into layer numbers; empty selects all.
std::vector<int64_t> parse_layer_selection(const std::string& spec);

struct LoadOptions {
  Pool pool = Pool::cls;    // how (N, T, D) tensors become (N, D)
  std::string select;       // layer numbers to keep ("0,2,4-8"), "" for all
  int64_t max_samples = 0;  // keep the first max_samples samples; 0 keeps all
  torch::Device device = torch::kCPU;
};

/// Reads, orders, selects, pools and moves the layers of `path`; checks they agree on N and are
/// finite (check_layers), naming the file and layer on failure.
LayerFile load_layer_file(const std::string& path, const LoadOptions& options);

}  // namespace layerwise::analysis
