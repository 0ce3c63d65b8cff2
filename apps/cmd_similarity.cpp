#include <iostream>

#include "cli.h"
#include "dist_flags.h"
#include "layerwise/analysis/similarity.h"
#include "layerwise/core/compat.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/workflow/run_similarity.h"

namespace layerwise::cli {

namespace {

struct SimilarityFlags {
  std::string run_dir, device = "cpu", metrics = "cos,cka_linear", pool = "model";
  workflow::RunSimilarityOptions options;
  DistFlags dist;
  bool tf32 = false;
};

void add_options(CLI::App& app, SimilarityFlags& f) {
  auto* cmd = app.add_subcommand("similarity", "Similarity matrices of a trained run's layers");
  cmd->footer(
      "Runs the model on the first --samples samples of --split, takes each layer's hidden\n"
      "state (layer.l = after block l; layer.0 = embeddings with --embeddings) pooled by --pool,\n"
      "and computes the measures for every pair of layers. Writes OUT/similarity.json,\n"
      "<metric>.csv and <metric>.svg (OUT defaults to RUN), and with --save-activations\n"
      "OUT/activations.safetensors, which `layerwise compare` reads.\n\n"
      "Example:\n"
      "  layerwise similarity runs/aligned --metrics cos,cka_linear,cka_rbf --samples 5000");
  cmd->add_option("RUN", f.run_dir, "run folder (from layerwise train)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--metrics,-m", f.metrics, "comma-separated measures, or all")
      ->capture_default_str();
  cmd->add_option("--samples", f.options.samples, "first N samples of the split (0: all)")
      ->capture_default_str()
      ->check(at_least_zero());
  cmd->add_option("--split", f.options.split, "test, val or train")->capture_default_str();
  cmd->add_option(
         "--pool", f.pool,
         "model (what the classifier reads; decoders: mean), cls (first token), mean or last")
      ->capture_default_str();
  cmd->add_option("--out,-o", f.options.out, "output folder (default RUN)");
  cmd->add_flag("--embeddings", f.options.include_embeddings,
                "also compare layer.0, the embedding output (use with --pool mean)");
  cmd->add_flag("--save-activations", f.options.save_activations,
                "also write OUT/activations.safetensors");
  cmd->add_option("--rbf-threshold", f.options.similarity.rbf.threshold,
                  "cka_rbf bandwidth: sigma = threshold x median distance")
      ->capture_default_str()
      ->check(above_zero());
  cmd->add_option("--minibatch", f.options.similarity.minibatch_size,
                  "batch size of cka_minibatch (with --nproc: each rank takes whole minibatches)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{4}, int64_t{1} << 20));
  cmd->add_option("--batch-size", f.options.inference.batch_size, "forward-pass batch")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--device", f.device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_flag("--tf32", f.tf32, "allow TF32 matrix products on CUDA");
  add_stats_flags(cmd, f.options.stats);
  add_dist_flags(cmd, f.dist,
                 "the samples (cos, linear, debiased and minibatch CKA all-reduce sums over "
                 "samples; the other measures gather the hidden states)");
}

int run(SimilarityFlags& f, const GlobalFlags& global) {
  f.options.metrics = analysis::parse_metrics(f.metrics);
  f.options.pool = inference::parse_layer_pool(f.pool, "--pool");
  if (const auto status = launch_workers_if_asked(f.dist)) return *status;
  const auto worker = join_as_worker(f.dist, f.device);
  f.options.comm = worker.comm.get();
  f.options.inference.device = worker.device;
  f.options.quiet = global.quiet || !worker.writes;
  compat::set_cuda_tf32(f.tf32);
  workflow::run_similarity(f.run_dir, f.options);
  if (!worker.writes) return 0;
  const std::string out = f.options.out.empty() ? f.run_dir : f.options.out;
  std::cout << RunDir(out).similarity() << "\n";
  return 0;
}

}  // namespace

Runner add_similarity(CLI::App& app) {
  return make_subcommand<SimilarityFlags>(app, add_options, run);
}

}  // namespace layerwise::cli
