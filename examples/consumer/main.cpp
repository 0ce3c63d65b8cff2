// Layer-by-layer similarity of one model, from a program outside the layerwise tree.
//
// Reads the activations of every layer from a safetensors file (written by `layerwise example`, by
// `layerwise similarity --save-activations`, or by any framework), then prints two L x L matrices:
// the sample-wise cosine similarity (COS) and linear CKA of every pair of layers.
//
//   layerwise example --out acts.safetensors
//   layerwise_consumer acts.safetensors
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "layerwise/analysis/layer_file.h"
#include "layerwise/analysis/similarity.h"

namespace lwa = layerwise::analysis;

// Prints `matrix` (L, L), float64, with the layer numbers as row and column labels.
void print_matrix(const std::string& metric, const torch::Tensor& matrix,
                  const std::vector<int64_t>& layer_numbers) {
  std::printf("%s: %s\n", metric.c_str(), lwa::metric_description(metric).c_str());
  std::printf("%6s", "layer");
  for (int64_t number : layer_numbers) std::printf(" %7lld", static_cast<long long>(number));
  std::printf("\n");
  const auto values = matrix.accessor<double, 2>();
  for (size_t i = 0; i < layer_numbers.size(); ++i) {
    std::printf("%6lld", static_cast<long long>(layer_numbers[i]));
    for (size_t j = 0; j < layer_numbers.size(); ++j) std::printf(" %7.4f", values[i][j]);
    std::printf("\n");
  }
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s ACTIVATIONS.safetensors\n", argv[0]);
    return 2;
  }
  try {
    // Every floating-point tensor of the file is one layer, ordered by the number in its name
    // ("layer.0", "h3", "blocks.11.out"). Default options: (N, T, D) tensors become (N, D) by
    // taking token 0 (the class token); all layers, all samples, on the CPU.
    const lwa::LayerFile file = lwa::load_layer_file(argv[1], {});

    // One call computes every requested measure for every pair of layers, sharing the work they
    // have in common. Passing the same list twice compares the model with itself.
    const std::vector<std::string> metrics = {"cos", "cka_linear"};
    const auto matrices = lwa::compute_similarity(metrics, file.layers, file.layers);

    // name -> (L, L) float64 matrix on the CPU; 1 on the diagonal, as each layer is itself.
    for (const std::string& metric : metrics) {
      print_matrix(metric, matrices.at(metric), file.numbers);
      std::printf("\n");
    }
  } catch (const std::exception& error) {  // layerwise::Error names the file or layer at fault
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
  return 0;
}
