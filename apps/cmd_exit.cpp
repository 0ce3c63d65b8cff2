#include <iostream>

#include "cli.h"
#include "dist_flags.h"
#include "layerwise/core/compat.h"
#include "layerwise/core/error.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/workflow/run_exit.h"

namespace layerwise::cli {

namespace {

struct ExitFlags {
  std::string run_dir, device = "cpu", policy = "confidence", time_batches,
                       time_schedules = "batch,stream";
  bool bf16 = false;
  workflow::RunExitOptions options;
  DistFlags dist;
};

void add_options(CLI::App& app, ExitFlags& f) {
  auto* cmd = app.add_subcommand(
      "exit",
      "Early exit with the model's classifier(s): curves, a calibrated threshold, speed-up");
  cmd->footer(
      "Policies: confidence (max softmax >= t), entropy (normalized entropy <= t), patience (same\n"
      "top class for t layers in a row), depth (stop at layer t). Aligned and standard runs read\n"
      "every layer with the last layer's classifier; multi-head runs with each layer's own head\n"
      "(--last-head: the last head).\n\n"
      "Writes RUN/exit.json: \"points\" (threshold, accuracy, mean_exit_layer,\n"
      "speedup_layers = L / mean exit layer, flops_ratio with the head reads included) for a\n"
      "sweep of thresholds on --split; \"calibration\" (the threshold with the fewest layers\n"
      "whose validation accuracy is within --max-drop of the full model's); \"chosen\": that\n"
      "threshold on --split, and with --time-batches the measured wall-clock speed-up of the\n"
      "batch-dynamic runner (exited samples really stop) against the plain full-depth forward\n"
      "pass, and its efficiency = wall-clock / layer-count speed-up.\n\n"
      "Example:\n"
      "  layerwise exit runs/aligned --policy confidence --max-drop 0.005 \\\n"
      "      --time-batches 32,256");
  cmd->add_option("RUN", f.run_dir, "run folder (from layerwise train)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--policy", f.policy, "confidence, entropy, patience or depth")
      ->capture_default_str();
  cmd->add_option("--threshold", f.options.threshold, "use this threshold instead of calibrating");
  cmd->add_option("--max-drop", f.options.max_drop,
                  "calibration: accuracy drop allowed, as a fraction (0.005 = half a point)")
      ->capture_default_str();
  cmd->add_option("--split", f.options.split, "test, val or train")->capture_default_str();
  cmd->add_flag("--last-head", f.options.last_head,
                "multi-head runs: use the last head everywhere");
  cmd->add_option("--time-batches", f.time_batches,
                  "comma-separated batch sizes to time, e.g. 1,32,256");
  cmd->add_option("--time-samples", f.options.time_samples, "samples per timing")
      ->capture_default_str();
  cmd->add_option("--batch-size", f.options.inference.batch_size, "evaluation batch")
      ->capture_default_str();
  cmd->add_option("--out,-o", f.options.out, "exit.json path (default RUN/exit.json)");
  cmd->add_option("--device", f.device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_flag("--bf16", f.bf16, "CUDA: bf16 autocast (curves and timings)");
  cmd->add_flag("--no-cuda-graphs{false}", f.options.inference.cuda_graphs,
                "CUDA: run every block call eagerly instead of replaying captured graphs");
  cmd->add_option("--time-schedules", f.time_schedules,
                  "runner schedules to time: batch (each batch to its end), stream (full block "
                  "calls across batches)")
      ->capture_default_str();
  add_dist_flags(cmd, f.dist, "the layer predictions (rank 0 times the runner)");
}

int run(ExitFlags& f, const GlobalFlags& global) {
  f.options.policy = parse_enum<exit::PolicyKind>(f.policy, "--policy");
  if (f.options.threshold >= 0) exit::validate({f.options.policy, f.options.threshold});
  f.options.time_batches = workflow::parse_batch_sizes(f.time_batches, "--time-batches");
  f.options.time_schedules = workflow::parse_schedules(f.time_schedules, "--time-schedules");
  if (const auto status = launch_workers_if_asked(f.dist)) return *status;
  const auto worker = join_as_worker(f.dist, f.device);
  f.options.comm = worker.comm.get();
  f.options.inference.device = worker.device;
  f.options.inference.bf16 = f.bf16 && worker.device.is_cuda();
  f.options.quiet = global.quiet || !worker.writes;
  const auto result = workflow::run_exit(f.run_dir, f.options);
  if (!worker.writes) return 0;
  if (!f.options.quiet) {
    const auto& c = result.at("chosen");
    std::cerr << "threshold " << c.at("threshold") << ": accuracy " << c.at("accuracy") << " (full "
              << result.at("full_accuracy") << "), mean exit layer " << c.at("mean_exit_layer")
              << ", speed-up " << c.at("speedup_layers") << "x in layers\n";
    for (const auto& t : c.at("timing"))
      std::cerr << "  batch " << t.at("batch_size") << " (" << t.at("schedule").get<std::string>()
                << "): wall-clock speed-up " << t.at("speedup_wall") << "x (efficiency "
                << t.at("efficiency") << ")\n";
  }
  std::cout << (f.options.out.empty() ? RunDir(f.run_dir).exit() : f.options.out) << "\n";
  return 0;
}

}  // namespace

Runner add_exit(CLI::App& app) {
  return make_subcommand<ExitFlags>(app, add_options, run);
}

}  // namespace layerwise::cli
