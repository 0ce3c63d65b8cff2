#include <iostream>

#include "cli.h"
#include "layerwise/analysis/similarity.h"
#include "layerwise/core/compat.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/workflow/compare.h"

namespace la = layerwise::analysis;

namespace layerwise::cli {

namespace {

struct CompareFlags {
  std::string file_a, file_b, out = "similarity_out",
                              metrics = "cos,cka_linear,cka_rbf,cka_debiased";
  std::string pool = "cls", layers, layers_b, device = "cpu";
  int64_t samples = 0;
  double rbf_threshold = 0.5;
  int64_t median_samples = 4096;
  double svcca_variance = 0.99;
  int64_t minibatch = 1024;
  bool tf32 = false;
  bool per_sample = false;
  analysis::StatsOptions stats;
};

void add_options(CLI::App& app, CompareFlags& flags) {
  auto* cmd =
      app.add_subcommand("compare", "Layer-by-layer similarity matrices from activation files");
  cmd->footer(
      "Each floating-point tensor in a file is a layer, (N, D) or (N, T, D), ordered by the\n"
      "integer in its name (layer.0, layer.1, ...). With one file the layers are compared with\n"
      "each other; with two, every layer of A with every layer of B (same samples, same order).\n"
      "All measures come from one pass of the similarity engine (linear and debiased CKA share\n"
      "their product).\n\n"
      "Measures: " +
      [] {
        std::string text;
        for (const auto& name : la::metric_names())
          text += "\n  " + name + std::string(15 - name.size(), ' ') + la::metric_description(name);
        return text;
      }() +
      "\n\nWrites OUT/similarity.json (all matrices, row i = layer i of A), OUT/<metric>.csv and\n"
      "OUT/<metric>.svg.\n\nExample:\n  layerwise example --out acts.safetensors\n"
      "  layerwise compare acts.safetensors --metrics all --pool mean --out sim/");
  cmd->add_option("A", flags.file_a, "safetensors file with the layers of model A")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("B", flags.file_b, "optional second file: compare A's layers with B's")
      ->check(CLI::ExistingFile);
  cmd->add_option("--metrics,-m", flags.metrics, "comma-separated measures, or all")
      ->capture_default_str();
  cmd->add_option("--pool", flags.pool,
                  "how (N, T, D) tensors become (N, D): cls (token 0), mean, last, flatten "
                  "(N, T*D), tokens (each token a sample)")
      ->capture_default_str();
  cmd->add_option("--layers", flags.layers, "layer numbers to keep, e.g. 0,2,4-12 (default all)");
  cmd->add_option("--layers-b", flags.layers_b, "layer numbers to keep from B (default: --layers)");
  cmd->add_option("--samples", flags.samples, "use the first N samples only (0: all)")
      ->check(at_least_zero());
  cmd->add_option("--out,-o", flags.out, "output folder")->capture_default_str();
  cmd->add_option("--device", flags.device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--rbf-threshold", flags.rbf_threshold,
                  "cka_rbf bandwidth: sigma = threshold x median distance")
      ->capture_default_str()
      ->check(above_zero());
  cmd->add_option("--median-samples", flags.median_samples,
                  "cka_rbf: rows used for the median distance (exact when N is at most this)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  cmd->add_option("--svcca-variance", flags.svcca_variance, "share of variance svcca keeps")
      ->capture_default_str()
      ->check(CLI::Range(1e-6, 1.0));
  cmd->add_option("--minibatch", flags.minibatch, "batch size of cka_minibatch")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{4}, int64_t{1} << 20));
  cmd->add_flag("--tf32", flags.tf32, "allow TF32 matrix products on CUDA (faster, ~1e-4 error)");
  add_stats_flags(cmd, flags.stats);
  cmd->add_flag("--per-sample", flags.per_sample,
                "also write OUT/cos_per_sample.safetensors: (N, La, Lb) per-sample cosines");
}

int run(CompareFlags& flags, const GlobalFlags& global) {
  workflow::CompareOptions o;
  o.file_a = flags.file_a;
  o.file_b = flags.file_b;
  o.layers_b = flags.layers_b;
  o.load.pool = parse_enum<la::Pool>(flags.pool, "--pool");
  o.load.select = flags.layers;
  o.load.max_samples = flags.samples;
  o.load.device = compat::parse_device(flags.device);
  o.metrics = la::parse_metrics(flags.metrics);
  o.similarity.rbf.threshold = flags.rbf_threshold;
  o.similarity.rbf.median_samples = flags.median_samples;
  o.similarity.svcca_variance = flags.svcca_variance;
  o.similarity.minibatch_size = flags.minibatch;
  o.out = flags.out;
  o.per_sample = flags.per_sample;
  o.stats = flags.stats;
  o.quiet = global.quiet;
  compat::set_cuda_tf32(flags.tf32);
  workflow::run_compare(o);
  std::cout << RunDir(flags.out).similarity() << "\n";
  return 0;
}

}  // namespace

Runner add_compare(CLI::App& app) {
  return make_subcommand<CompareFlags>(app, add_options, run);
}

}  // namespace layerwise::cli
