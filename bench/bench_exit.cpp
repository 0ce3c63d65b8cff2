// Measured speed-up of early exit on a trained run: the batch-dynamic runner (exited samples leave
// the batch) against the plain full-depth forward pass of the same model, at several batch sizes,
// with the threshold calibrated on the validation split (or given).
//
//   build/bench/bench_exit runs/aligned --device cuda --batches 1,32,256 --samples 4096
//
// Prints one line per batch size and schedule (batch: each batch to its end; stream: full block
// calls across batches): mean exit layer, the ideal layer-count speed-up L / mean exit
// layer, the measured wall-clock speed-up, and their ratio (efficiency). --json FILE keeps the
// whole exit.json (curves, calibration, timings).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "layerwise/core/compat.h"
#include "layerwise/core/error.h"
#include "layerwise/core/runtime.h"
#include "layerwise/workflow/run_exit.h"

int main(int argc, char** argv) {
  CLI::App app{"Wall-clock speed-up of early exit against full-depth inference"};
  std::string run_dir, device = "cpu", policy = "confidence", batches = "1,32,256", json,
                       schedules = "batch,stream";
  layerwise::workflow::RunExitOptions options;
  options.time_samples = 4096;
  app.add_option("RUN", run_dir, "run folder (from layerwise train)")->required();
  app.add_option("--device", device, "cpu or cuda[:N]")->capture_default_str();
  app.add_option("--policy", policy, "confidence, entropy, patience or depth")
      ->capture_default_str();
  app.add_option("--threshold", options.threshold, "threshold (default: calibrated on val)");
  app.add_option("--max-drop", options.max_drop, "calibration: accuracy drop allowed")
      ->capture_default_str();
  app.add_option("--batches", batches, "batch sizes to time")->capture_default_str();
  app.add_option("--schedules", schedules, "runner schedules: batch, stream")
      ->capture_default_str();
  app.add_option("--samples", options.time_samples, "test samples timed")->capture_default_str();
  app.add_option("--repeats", options.time_repeats, "timed runs per measurement (median kept)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_flag("--last-head", options.last_head, "multi-head runs: the last head everywhere");
  app.add_flag("--bf16", options.inference.bf16, "CUDA: bf16 autocast");
  app.add_flag("--no-cuda-graphs{false}", options.inference.cuda_graphs,
               "CUDA: eager block calls (no captured graphs)");
  app.add_option("--json", json, "where to write exit.json (default RUN/exit_bench.json)");
  CLI11_PARSE(app, argc, argv);
  try {
    layerwise::configure_runtime(0);
    options.policy = layerwise::parse_enum<layerwise::exit::PolicyKind>(policy, "--policy");
    options.inference.device = layerwise::compat::parse_device(device);
    options.inference.bf16 = options.inference.bf16 && options.inference.device.is_cuda();
    options.time_batches = layerwise::workflow::parse_batch_sizes(batches, "--batches");
    options.time_schedules = layerwise::workflow::parse_schedules(schedules, "--schedules");
    options.out = json.empty() ? run_dir + "/exit_bench.json" : json;
    const auto result = layerwise::workflow::run_exit(run_dir, options);
    const auto& chosen = result.at("chosen");
    std::printf("%s, %s policy, threshold %.4g: accuracy %.4f (full depth %.4f)\n", run_dir.c_str(),
                policy.c_str(), chosen.at("threshold").get<double>(),
                chosen.at("accuracy").get<double>(), result.at("full_accuracy").get<double>());
    std::printf("%-8s %-8s %-8s %-10s %-12s %-12s %-10s %-10s %s\n", "device", "batch", "schedule",
                "samples", "early (s)", "full (s)", "exit layer", "layers x",
                "wall x (efficiency)");
    for (const auto& t : chosen.at("timing"))
      std::printf(
          "%-8s %-8lld %-8s %-10lld %-12.4f %-12.4f %-10.2f %-10.2f %.2f (%.0f%%)\n",
          t.at("device").get<std::string>().c_str(), (long long)t.at("batch_size").get<int64_t>(),
          t.at("schedule").get<std::string>().c_str(), (long long)t.at("samples").get<int64_t>(),
          t.at("early_exit_seconds").get<double>(), t.at("full_depth_seconds").get<double>(),
          t.at("mean_exit_layer").get<double>(), t.at("speedup_layers").get<double>(),
          t.at("speedup_wall").get<double>(), 100 * t.at("efficiency").get<double>());
    std::printf("exit.json: %s\n", options.out.c_str());
  } catch (const std::exception& e) {
    std::cerr << "bench_exit: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
