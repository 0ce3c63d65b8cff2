#include "layerwise/workflow/run_similarity.h"

#include "layerwise/core/error.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/core/safetensors.h"
#include "layerwise/core/version.h"
#include "layerwise/data/task_data.h"
#include "layerwise/distributed/shard.h"
#include "layerwise/train/checkpoint.h"
#include "layerwise/workflow/compare.h"

namespace layerwise::workflow {

analysis::SimilarityResults run_similarity(const std::string& run_dir,
                                           const RunSimilarityOptions& options) {
  const auto run = train::load_run(run_dir, options.inference.device);
  const auto examples = data::load_split(run.config.data, options.split, options.samples, run_dir);
  auto inference = options.inference;
  const bool main = !options.comm || options.comm->is_main();
  if (!options.quiet && main) inference.progress = "hidden states (" + options.split + ")";
  auto inputs = examples.inputs;
  if (options.comm) {  // this rank's share of the forward passes
    const auto [begin, end] =
        distributed::shard_range(inputs.size(0), options.comm->rank(), options.comm->world_size());
    LW_CHECK(end > begin, "similarity: ", inputs.size(0), " samples for ",
             options.comm->world_size(), " ranks; every rank needs at least one");
    inputs = inputs.slice(0, begin, end);
  }
  auto all = inference::extract_layers(*run.model, inputs, options.pool, inference);
  if (options.comm) {
    for (auto& layer : all) layer = distributed::gather_along(*options.comm, layer, 0);  // (N, ...)
    if (!main) return {};  // rank 0 computes and writes
  }
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
