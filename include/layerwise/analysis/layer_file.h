// Loading the layers of one model from a safetensors file that any framework wrote.
//
// Every floating-point tensor in the file is a layer, N x D or N x T x D (token dimension pooled,
// see Pool). Layers are ordered by the integer in their names: "layer.0", "h3", "blocks.11.out" all
// work. When names hold several integers, the one position that differs between names orders them.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "layerwise/analysis/layers.h"

namespace layerwise::analysis {

/// How an N x T x D tensor becomes one representation per sample.
enum class Pool {
  kCls,      // token 0, the class token: (N, D)
  kMean,     // mean over tokens: (N, D)
  kLast,     // token T-1, as a decoder's summary: (N, D)
  kFlatten,  // every token's features side by side: (N, T*D)
  kTokens,   // every token a sample of its own: (N*T, D)
};

/// Parses cls|mean|last|flatten|tokens; throws layerwise::Error on anything else.
Pool parse_pool(const std::string& name);
std::string pool_name(Pool pool);

/// Applies the pooling to one (N, D) or (N, T, D) tensor; (N, D) passes through.
torch::Tensor pool_tokens(const torch::Tensor& x, Pool pool);

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
  Pool pool = Pool::kCls;
  std::string select;       // --layers: layer numbers to keep, "" for all
  int64_t max_samples = 0;  // keep the first max_samples samples; 0 keeps all
  torch::Device device = torch::kCPU;
};

/// Reads, orders, selects, pools and moves the layers of `path`; checks they agree on N and are
/// finite (check_layers), naming the file and layer on failure.
LayerFile load_layer_file(const std::string& path, const LoadOptions& options);

}  // namespace layerwise::analysis
