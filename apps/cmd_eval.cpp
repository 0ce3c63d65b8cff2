#include <iomanip>
#include <iostream>

#include "cli.h"
#include "dist_flags.h"
#include "layerwise/core/compat.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/report/page_parts.h"
#include "layerwise/workflow/run_eval.h"

namespace layerwise::cli {

namespace {

struct EvalFlags {
  std::string run_dir, device = "cpu";
  workflow::RunEvalOptions options;
  bool bf16 = false;
  DistFlags dist;
};

void add_options(CLI::App& app, EvalFlags& f) {
  auto* cmd = app.add_subcommand("eval", "Read a trained run layer by layer");
  cmd->footer(
      "Applies the last layer's classifier after every layer (multi-head runs: each layer's own\n"
      "head, and the last head as well) and writes RUN/eval.json:\n"
      "  accuracy, mean_confidence, loss, cos_to_last    one value per layer 1..L\n"
      "  final_accuracy                                   accuracy of layer L\n"
      "  saturation_layer_histogram                       samples per saturation layer 1..L (the\n"
      "                                                   first layer from which the prediction\n"
      "                                                   no longer changes)\n"
      "  minimal_depth                                    first layer within --tolerance of final\n"
      "and RUN/eval_predictions.safetensors with the per-sample values.\n\n"
      "Example:\n  layerwise eval runs/aligned --split test");
  cmd->add_option("RUN", f.run_dir, "run folder (from layerwise train)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--split", f.options.split, "test, val or train")->capture_default_str();
  cmd->add_option("--tolerance", f.options.tolerance,
                  "minimal depth: accuracy within this of the final one (0.01 = 1 point)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--samples", f.options.samples, "first N samples of the split (0: all)")
      ->check(at_least_zero());
  cmd->add_option("--batch-size", f.options.inference.batch_size)
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--out,-o", f.options.out, "eval.json path (default RUN/eval.json)");
  cmd->add_option("--device", f.device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_flag("--bf16", f.bf16, "CUDA: bf16 autocast");
  add_dist_flags(cmd, f.dist, "the samples");
}

// Accuracy per layer beside what the model cut after that layer costs (eval.json's
// depth_parameters and depth_flops), to pick a depth for a budget (layerwise export --depth K).
void print_layers(const std::string& split, const nlohmann::json& result) {
  const auto& accuracy = result.at("accuracy");
  const auto& parameters = result.at("depth_parameters");
  const auto& flops = result.at("depth_flops");
  std::cerr << std::setw(5) << "layer" << std::setw(20) << "accuracy (%, " + split + ")"
            << std::setw(12) << "parameters" << std::setw(16) << "FLOPs / sample"
            << "\n";
  for (size_t l = 0; l < accuracy.size() && l < parameters.size(); ++l)
    std::cerr << std::setw(5) << l + 1 << std::setw(20) << std::fixed << std::setprecision(1)
              << 100 * accuracy[l].get<double>() << std::setw(12)
              << report::format_si(parameters[l].get<double>()) << std::setw(16)
              << report::format_si(flops[l].get<double>()) << "\n";
  std::cerr << "minimal depth " << result.at("minimal_depth") << " of " << result.at("n_layers")
            << "\n";
}

int run(EvalFlags& f, const GlobalFlags& global) {
  if (const auto status = launch_workers_if_asked(f.dist)) return *status;
  const auto worker = join_as_worker(f.dist, f.device);
  f.options.comm = worker.comm.get();
  f.options.inference.device = worker.device;
  f.options.inference.bf16 = f.bf16 && worker.device.is_cuda();
  f.options.quiet = global.quiet || !worker.writes;
  const auto result = workflow::evaluate_run(f.run_dir, f.options);
  if (!worker.writes) return 0;
  if (!f.options.quiet) print_layers(f.options.split, result);
  std::cout << (f.options.out.empty() ? RunDir(f.run_dir).eval() : f.options.out) << "\n";
  return 0;
}

}  // namespace

Runner add_eval(CLI::App& app) {
  return make_subcommand<EvalFlags>(app, add_options, run);
}

}  // namespace layerwise::cli
