#include "layerwise/workflow/run_similarity.h"

#include <chrono>
#include <iostream>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/core/safetensors.h"
#include "layerwise/core/version.h"
#include "layerwise/data/task_data.h"
#include "layerwise/train/checkpoint.h"

namespace layerwise::workflow {

analysis::SimilarityResults run_similarity(const std::string& run_dir,
                                           const RunSimilarityOptions& options) {
  const auto run = train::load_run(run_dir, options.eval.device);
  const auto examples = data::load_split(run.config.data, options.split, options.samples, run_dir);
  auto eval = options.eval;
  if (!options.quiet) eval.progress = "hidden states (" + options.split + ")";
  const auto all = analysis::extract_layers(*run.model, examples.inputs, options.pool, eval);
  analysis::Layers layers;
  analysis::SimilarityResults results;
  for (size_t l = options.include_embeddings ? 0 : 1; l < all.size(); ++l) {
    layers.push_back(all[l].to(options.eval.device));
    results.layers_a.push_back("layer." + std::to_string(l));
  }
  results.layers_b = results.layers_a;
  results.n_samples = examples.labels.numel();
  for (const auto& metric : options.metrics) {
    const auto start = std::chrono::steady_clock::now();
    results.metrics[metric] =
        analysis::compute_similarity({metric}, layers, layers, options.similarity).at(metric);
    results.seconds[metric] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!options.quiet)
      std::cerr << metric << ": " << layers.size() << " x " << layers.size() << " in "
                << results.seconds[metric] << " s\n";
  }
  results.inputs = {{"run", run_dir},
                    {"split", options.split},
                    {"pool", options.pool},
                    {"include_embeddings", options.include_embeddings},
                    {"objective", train::to_string(run.config.train.objective)},
                    {"device", options.eval.device.str()}};
  results.options = {{"rbf_threshold", options.similarity.rbf.threshold},
                     {"median_samples", options.similarity.rbf.median_samples},
                     {"svcca_variance", options.similarity.svcca_variance},
                     {"minibatch", options.similarity.minibatch_size}};
  const std::string out = options.out.empty() ? run_dir : options.out;
  analysis::write_similarity_files(out, results);
  if (options.save_activations) {
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (size_t l = 0; l < layers.size(); ++l) tensors.emplace_back(results.layers_a[l], layers[l]);
    tensors.emplace_back("labels", examples.labels);
    write_safetensors(out + "/activations.safetensors", tensors,
                      {{"run", run_dir},
                       {"split", options.split},
                       {"pool", options.pool},
                       {"version", version_string()}});
  }
  return results;
}

}  // namespace layerwise::workflow
