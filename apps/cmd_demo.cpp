#include <iostream>

#include "cli.h"
#include "layerwise/core/compat.h"
#include "layerwise/workflow/demo.h"

namespace layerwise::cli {

namespace {

void add_options(CLI::App& app, workflow::DemoOptions& o) {
  auto* cmd = app.add_subcommand(
      "demo",
      "Train a standard and an aligned ViT on Fashion-MNIST and compare them layer by layer");
  cmd->footer(
      "The paper's central experiment at CPU scale (about 10 minutes on 2 cores with the\n"
      "defaults). For each objective it writes a run folder OUT/<objective> (config, weights,\n"
      "metrics.jsonl, eval.json, similarity.json with COS and linear CKA), then OUT/summary.txt\n"
      "and OUT/summary.json: test accuracy of the last layer's classifier after every layer,\n"
      "minimal depth, mean saturation layer, and how closely COS tracks CKA. Finished runs are\n"
      "reused and interrupted ones resumed, so running it again is cheap.\n\n"
      "Example:\n  layerwise demo --out demo_out\n"
      "  layerwise demo --preset medium --epochs 30 --multihead --device cuda --out gpu_demo");
  cmd->add_option("--out,-o", o.out, "output folder")->capture_default_str();
  cmd->add_option("--preset", o.preset, "model size: tiny, small, medium or base")
      ->capture_default_str();
  cmd->add_option("--epochs", o.epochs, "training epochs per model")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--train-limit", o.train_limit, "train on the first N samples only (0: all)")
      ->check(at_least_zero());
  cmd->add_option("--similarity-samples", o.similarity_samples, "test samples for COS / CKA")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{4}, int64_t{10000}));
  cmd->add_flag("--multihead", o.multihead, "also train the multi-head baseline");
  cmd->add_option("--data-dir", o.data_dir, "Fashion-MNIST folder (default: Debian's)");
  cmd->add_option("--seed", o.seed)->capture_default_str();
  cmd->add_option("--device", o.device, "cpu or cuda[:N]")->capture_default_str();
}

int run(workflow::DemoOptions& o, const GlobalFlags& global) {
  compat::parse_device(o.device);  // fail now rather than after loading data
  o.quiet = global.quiet;
  const auto summary = workflow::run_demo(o);
  std::cout << workflow::demo_summary_text(summary) << "\nwritten to " << o.out << "/\n"
            << "report: " << summary.at("report").get<std::string>() << "\n";
  return 0;
}

}  // namespace

Runner add_demo(CLI::App& app) {
  return make_subcommand<workflow::DemoOptions>(app, add_options, run);
}

}  // namespace layerwise::cli
