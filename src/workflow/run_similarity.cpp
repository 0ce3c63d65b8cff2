#include "layerwise/workflow/run_similarity.h"

#include "layerwise/core/run_dir.h"
#include "layerwise/core/safetensors.h"
#include "layerwise/core/version.h"
#include "layerwise/data/task_data.h"
#include "layerwise/train/checkpoint.h"
#include "layerwise/workflow/compare.h"

namespace layerwise::workflow {

analysis::SimilarityResults run_similarity(const std::string& run_dir,
                                           const RunSimilarityOptions& options) {
  const auto run = train::load_run(run_dir, options.inference.device);
  const auto examples = data::load_split(run.config.data, options.split, options.samples, run_dir);
  auto inference = options.inference;
  if (!options.quiet) inference.progress = "hidden states (" + options.split + ")";
  const auto all = inference::extract_layers(*run.model, examples.inputs, options.pool, inference);
  analysis::Layers layers;
  std::vector<std::string> names;
  for (size_t l = options.include_embeddings ? 0 : 1; l < all.size(); ++l) {
    layers.push_back(all[l].to(options.inference.device));
    names.push_back("layer." + std::to_string(l));
  }
  auto results = compare_layers(layers, layers, names, names, options.metrics, options.similarity,
                                options.quiet);
  const auto pool = inference::layer_pool_name(options.pool);
  results.inputs = {{"run", run_dir},
                    {"split", options.split},
                    {"pool", pool},
                    {"include_embeddings", options.include_embeddings},
                    {"objective", enum_name(run.config.train.objective)},
                    {"device", options.inference.device.str()}};
  const std::string out = options.out.empty() ? run_dir : options.out;
  write_result_folder(out, [&](const std::string& dir) {
    auto paths = write_similarity_files(dir, results);
    if (options.save_activations) {
      std::vector<std::pair<std::string, torch::Tensor>> tensors;
      for (size_t l = 0; l < layers.size(); ++l) tensors.emplace_back(names[l], layers[l]);
      tensors.emplace_back("labels", examples.labels);
      paths.push_back(RunDir(dir).activations());
      write_safetensors(paths.back(), tensors,
                        {{"run", run_dir},
                         {"split", options.split},
                         {"pool", pool},
                         {"version", version_string()}});
    }
    return paths;
  });
  return results;
}

}  // namespace layerwise::workflow
