// `layerwise similarity`: hidden states of a trained run's model on its data, compared layer by
// layer with the similarity engine (the same files as `layerwise compare`, through compare.h).
#pragma once

#include <string>
#include <vector>

#include "layerwise/analysis/similarity.h"
#include "layerwise/analysis/similarity_results.h"
#include "layerwise/distributed/communicator.h"
#include "layerwise/inference/extract.h"

namespace layerwise::workflow {

struct RunSimilarityOptions {
  std::vector<std::string> metrics = {"cos", "cka_linear"};
  int64_t samples = 2000;           // the first N samples of the split (0: all)
  inference::LayerPool pool;        // which token(s) represent a sample; nullopt: the model's own
  std::string split = "test";       // test | val | train
  std::string out;                  // folder; empty: the run folder
  bool save_activations = false;    // also write OUT/activations.safetensors (the layers compared)
  bool include_embeddings = false;  // also compare layer.0, the embedding output (with pool cls
                                    // it is the same for every image, so CKA is undefined)
  analysis::SimilarityOptions similarity;
  analysis::StatsOptions stats;           // --bootstrap, --null (one process only)
  inference::InferenceOptions inference;  // batch size, device, bf16 for the forward passes
  bool quiet = false;
  // Several ranks: each runs the forward passes of its share of the samples; the measures that
  // are sums over samples (cos, linear, debiased and minibatch CKA) all-reduce those sums, the
  // others gather the hidden states; rank 0 computes the matrices and writes. Null: one process.
  distributed::Communicator* comm = nullptr;
};

/// Extracts layers 1..L (with include_embeddings also layer.0, the embedding output) and writes
/// similarity.json, CSV and SVG files; returns what was computed (ranks other than 0: nothing).
analysis::SimilarityResults run_similarity(const std::string& run_dir,
                                           const RunSimilarityOptions& options);

}  // namespace layerwise::workflow
