// A generated set of layer activations for trying `layerwise compare` before any model is trained.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace layerwise::data {

struct ExampleOptions {
  int64_t n_samples = 2000;  // N
  int64_t n_tokens = 8;      // T, token 0 acting as a class token
  int64_t width = 64;        // D
  int64_t n_layers = 12;     // blocks; layer.0 is the input embedding
  int64_t n_classes = 10;    // clusters of the input
  uint64_t seed = 0;
};

/// Hidden states of a randomly initialised pre-norm residual network (token mixing plus a tanh MLP
/// per block) applied to tokens drawn around one of n_classes random centres: "layer.0" (the input)
/// to "layer.<n_layers>", each (N, T, D) float32, plus "labels" (N) int64. Residual streams make
/// neighbouring layers similar and distant ones less so, the structure real transformers show.
std::vector<std::pair<std::string, torch::Tensor>> example_activations(
    const ExampleOptions& options);

}  // namespace layerwise::data
