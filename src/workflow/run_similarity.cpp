#include "layerwise/workflow/run_similarity.h"

#include "layerwise/analysis/similarity_sums.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/core/safetensors.h"
#include "layerwise/core/version.h"
#include "layerwise/data/task_data.h"
#include "layerwise/distributed/shard.h"
#include "layerwise/train/checkpoint.h"
#include "layerwise/workflow/compare.h"
#include "layerwise/workflow/sharded_similarity.h"

namespace layerwise::workflow {

namespace {

// The matrices (rank 0) of layers whose samples the ranks share: the summable measures from
// all-reduced sums; the others, and --save-activations, gather `layers` (in place, every rank).
std::pair<std::map<std::string, torch::Tensor>, std::map<std::string, double>> sharded_similarity(
    distributed::Communicator& comm, analysis::Layers& layers,
    const RunSimilarityOptions& options) {
  std::vector<std::string> summed, gathered;
  for (const auto& metric : options.metrics)
    (analysis::metric_is_summable(metric) ? summed : gathered).push_back(metric);
  std::map<std::string, double> seconds;
  auto matrices = summed.empty() ? std::map<std::string, torch::Tensor>{}
                                 : reduced_similarity(comm, layers, summed,
                                                      options.similarity.minibatch_size, &seconds);
  if (!gathered.empty() || options.save_activations) {
    for (auto& layer : layers) layer = distributed::gather_along(comm, layer, 0);  // (N, D)
    if (comm.is_main() && !gathered.empty())
      matrices.merge(
          analysis::compute_similarity(gathered, layers, layers, options.similarity, &seconds));
  }
  return {std::move(matrices), std::move(seconds)};
}

}  // namespace

analysis::SimilarityResults run_similarity(const std::string& run_dir,
                                           const RunSimilarityOptions& options) {
  const auto run = train::load_run(run_dir, options.inference.device);
  const auto examples = data::load_split(run.config.data, options.split, options.samples, run_dir);
  auto inference = options.inference;
  const bool main = !options.comm || options.comm->is_main();
  if (!options.quiet && main) inference.progress = "hidden states (" + options.split + ")";
  auto inputs = examples.inputs;
  const int64_t n_samples = inputs.size();
  if (options.comm) {  // this rank's share of the forward passes
    const auto [begin, end] =
        similarity_shard(n_samples, options.metrics, options.similarity.minibatch_size,
                         options.comm->rank(), options.comm->world_size());
    inputs = inputs.slice(begin, end);
  }
  const auto all = inference::extract_layers(*run.model, inputs, options.pool, inference);
  analysis::Layers layers;  // this rank's samples
  std::vector<std::string> names;
  for (size_t l = options.include_embeddings ? 0 : 1; l < all.size(); ++l) {
    layers.push_back(all[l].to(options.inference.device));
    names.push_back("layer." + std::to_string(l));
  }
  analysis::SimilarityResults results;
  LW_CHECK(!options.comm || (options.stats.bootstrap == 0 && options.stats.null_draws == 0),
           "--bootstrap and --null run in one process (they resample all samples): drop --nproc");
  if (options.comm) {
    auto [matrices, seconds] = sharded_similarity(*options.comm, layers, options);
    if (!main) return {};  // rank 0 writes
    results = similarity_results(names, names, n_samples, std::move(matrices), std::move(seconds),
                                 options.similarity, options.quiet);
  } else {
    results = compare_layers(layers, layers, names, names, options.metrics, options.similarity,
                             options.quiet, options.stats);
  }
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
