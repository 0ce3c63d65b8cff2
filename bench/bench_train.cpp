// Training-step throughput of a layerwise ViT: the step `layerwise train` takes (forward, the
// objective's loss, backward, gradient clipping, AdamW), timed on random batches, with the model
// FLOPs per image counted analytically and the model FLOPs utilization (MFU) against a stated peak.
// bench/train_reference.py is the same model and step in PyTorch Python; both print the same JSON
// line per configuration, and scripts/device_bench_train.sh runs them side by side.
//
//   build/bench/bench_train --preset base --objective standard,aligned --batch 256 --device cuda
//   build/bench/bench_train --preset vit-b16 --objective aligned --batch 256 --device cuda
//   build/bench/bench_train --preset tiny --batch 8 --warmup 1 --steps 2     (a CPU smoke test)
//
// Presets: the ViT presets of layerwise (tiny, small, medium, base: 28 x 28 x 1 Fashion-MNIST
// shapes, 10 classes) and vit-b16 (ViT-B/16's shape: 224 x 224 x 3 images, patch 16, 197 tokens,
// d = 768, 12 layers, 12 heads, MLP 3072, here with 10 classes); the size flags override them.
//
// The step is the trainer's own: train::TrainStep::run (include/layerwise/train/train_step.h),
// built as src/train/trainer.cpp builds it, with the trainer's defaults (TrainConfig: AdamW from
// train::named_parameters, fused where LibTorch has it; clip norm 1.0; the warm-up + cosine
// learning rate; bf16 autocast on CUDA; train.cuda_graphs on: after two eager steps each step is
// one CUDA graph replay). --no-cuda-graphs and --no-fused time the eager step and the
// one-parameter-at-a-time AdamW. Left out, on purpose, and left out of train_reference.py too:
// selecting the batch from the device-resident training set and augmenting it (a gather and a
// flip), and the metric flush every train.log_every steps (one host sync per 10 steps). The
// batches are random images N(0, 1) (normalized pixels have that scale) and random labels, drawn
// on the device before timing; four of them are used in turn.
//
// Timing: `--warmup` steps, a device synchronization, then `--repeats` windows of `--steps` steps,
// each window closed by a synchronization before the clock is read; the median window is reported
// (and the fastest and slowest, as the spread). `--breakdown N` then runs N more steps eagerly, as
// TrainStep's eager path does (zero_grad, objective_loss in the autocast scope, backward,
// clip_grad_norm, AdamW update, zero_grad) with a synchronization after each phase (forward + loss,
// backward, clip, optimizer) and reports per phase
// the median host time (until the phase's work is queued) and wall time (until the device has done
// it): where host time is close to wall time, the host is the bottleneck. One last step counts the
// ATen operators each phase dispatches (RecordFunction, "aten::" names; nested ones included).
#include <CLI/CLI.hpp>

#include <ATen/record_function.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerwise/core/compat.h"
#include "layerwise/core/enum_names.h"
#include "layerwise/core/error.h"
#include "layerwise/core/runtime.h"
#include "layerwise/model/config.h"
#include "layerwise/model/depth_cost.h"
#include "layerwise/model/layered_model.h"
#include "layerwise/train/objective.h"
#include "layerwise/train/optimizer.h"
#include "layerwise/train/run_config.h"
#include "layerwise/train/train_step.h"

namespace lw = layerwise;

namespace {

using Clock = std::chrono::steady_clock;

// The H100 / H200 SXM datasheet's dense bf16 rate (no sparsity).
constexpr double kPeakBf16 = 989e12;

lw::model::ModelConfig bench_preset(const std::string& name) {
  if (name == "vit-b16") {  // ViT-B/16 (Dosovitskiy et al. 2021) at 224 x 224, 10 classes
    auto c = lw::model::vit_preset("base");
    c.image_size = 224;
    c.in_channels = 3;
    c.patch_size = 16;
    return c;
  }
  const auto names = lw::model::vit_preset_names();
  LW_CHECK(std::find(names.begin(), names.end(), name) != names.end(), "--preset '", name,
           "' is not known; use tiny, small, medium, base or vit-b16");
  return lw::model::vit_preset(name);
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// ATen operators dispatched while counting (any thread: backward runs on autograd's).
std::atomic<int64_t> g_aten_ops{0};
std::unique_ptr<at::ObserverContext> count_aten_op(const at::RecordFunction& fn) {
  if (std::strncmp(fn.name(), "aten::", 6) == 0) g_aten_ops.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct BenchOptions {
  int64_t warmup = 10, steps = 30, repeats = 3, breakdown = 0;
  bool bf16 = true, cuda_graphs = true, fused = true;
  double peak = kPeakBf16;
  torch::Device device{torch::kCPU};
};

nlohmann::json bench_one(const lw::model::ModelConfig& base, const std::string& label,
                         lw::train::Objective objective, int64_t batch, const BenchOptions& o) {
  const lw::train::TrainConfig t;  // the trainer's defaults: lr, betas, eps, decay, clip norm
  auto config = base;
  config.heads = lw::train::head_mode_for(objective);
  lw::model::validate(config);
  torch::manual_seed(0);
  auto model = lw::model::make_model(config);
  model->to(o.device);
  model->train();
  auto t_run = t;  // the trainer's settings with this benchmark's choices
  t_run.objective = objective;
  t_run.bf16 = o.bf16;
  t_run.cuda_graphs = o.cuda_graphs;
  const auto settings = lw::train::step_settings(t_run, config.n_layers, o.device);
  const bool bf16 = settings.bf16;
  const auto weights = settings.layer_weights;
  auto adamw = lw::train::adamw_config(t_run);
  adamw.fused = o.fused;  // the trainer keeps the default (true)
  lw::train::AdamW optimizer(lw::train::named_parameters(*model), adamw);
  lw::train::TrainStep train_step(*model, optimizer, settings);
  constexpr int kBatches = 4;
  std::vector<torch::Tensor> xs, ys;
  for (int i = 0; i < kBatches; ++i) {
    xs.push_back(torch::randn({batch, config.in_channels, config.image_size, config.image_size},
                              torch::TensorOptions().device(o.device)));  // (B, C, H, W)
    ys.push_back(torch::randint(0, config.n_classes, {batch},
                                torch::TensorOptions().device(o.device).dtype(torch::kInt64)));
  }
  const int64_t total_steps = o.warmup + o.repeats * o.steps + o.breakdown + 1;
  const int64_t warmup_steps = std::max<int64_t>(1, o.warmup);

  // One training step, as Trainer::run takes it.
  torch::Tensor last_loss;
  auto step = [&](int64_t i) {
    const double lr = lw::train::warmup_cosine_lr(i, total_steps, warmup_steps, t.lr, t.min_lr);
    last_loss = train_step.run(xs[i % kBatches], ys[i % kBatches], lr).loss;
  };

  const auto first = Clock::now();
  step(0);
  lw::compat::synchronize(o.device);
  const double first_step_s = std::chrono::duration<double>(Clock::now() - first).count();
  int64_t i = 1;
  for (; i < o.warmup; ++i) step(i);
  lw::compat::synchronize(o.device);
  std::vector<double> window_ms;  // ms per step, one per window
  for (int64_t r = 0; r < o.repeats; ++r) {
    const auto start = Clock::now();
    for (int64_t s = 0; s < o.steps; ++s, ++i) step(i);
    lw::compat::synchronize(o.device);
    window_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count() /
                        double(o.steps));
  }

  // The same step in phases, each closed by a synchronization (see the comment at the top).
  struct Phase {
    const char* name;
    std::vector<double> host_ms, wall_ms;
    int64_t aten_ops = 0;
  };
  std::array<Phase, 4> phases{{{"forward_loss", {}, {}, 0},
                               {"backward", {}, {}, 0},
                               {"clip", {}, {}, 0},
                               {"optimizer", {}, {}, 0}}};
  auto phased_step = [&](int64_t i, bool count) {
    auto run_phase = [&](Phase& phase, auto&& body) {
      if (count) g_aten_ops = 0;
      const auto start = Clock::now();
      body();
      const auto queued = Clock::now();
      lw::compat::synchronize(o.device);
      const auto done = Clock::now();
      if (count) {
        phase.aten_ops = g_aten_ops.load();
      } else {
        phase.host_ms.push_back(std::chrono::duration<double, std::milli>(queued - start).count());
        phase.wall_ms.push_back(std::chrono::duration<double, std::milli>(done - start).count());
      }
    };
    optimizer.zero_grad();  // as TrainStep's eager path: drops gradients a graph left attached
    lw::train::ObjectiveResult result;
    run_phase(phases[0], [&] {
      lw::compat::Bf16AutocastScope autocast(bf16);
      result = lw::train::objective_loss(*model, objective, weights, xs[i % kBatches],
                                         ys[i % kBatches], t.label_smoothing);
    });
    run_phase(phases[1], [&] { result.loss.backward(); });
    run_phase(phases[2], [&] { lw::train::clip_grad_norm(optimizer.parameters(), t.clip_norm); });
    const double lr = lw::train::warmup_cosine_lr(i, total_steps, warmup_steps, t.lr, t.min_lr);
    run_phase(phases[3], [&] {
      optimizer.set_lr(lr);
      optimizer.update();
      optimizer.zero_grad();
    });
    last_loss = result.loss.detach();
  };
  nlohmann::json breakdown = nullptr;
  if (o.breakdown > 0) {
    for (int64_t b = 0; b < o.breakdown; ++b, ++i) phased_step(i, false);
    const auto handle = at::addGlobalCallback(
        at::RecordFunctionCallback(count_aten_op).scopes({at::RecordScope::FUNCTION}));
    phased_step(i++, true);
    at::removeCallback(handle);
    breakdown = nlohmann::json::object();
    for (const auto& phase : phases)
      breakdown[phase.name] = {{"host_ms", median(phase.host_ms)},
                               {"wall_ms", median(phase.wall_ms)},
                               {"aten_ops", phase.aten_ops}};
  }
  const double loss = last_loss.item<double>();
  LW_CHECK(std::isfinite(loss), "bench_train: the loss is ", loss, " after ", i, " steps");

  const int64_t head_calls = objective == lw::train::Objective::standard ? 1 : config.n_layers;
  // Forward-pass matrix-product FLOPs per image (model/depth_cost.h says what is counted).
  const auto flops = lw::model::forward_flops(config, config.n_layers, 0, head_calls);
  const double ms = median(window_ms);
  const double images_per_second = double(batch) / (ms / 1000);
  const double train_flops = 3 * flops.total();
  std::string torch_version = "unknown";
#ifdef TORCH_VERSION
  torch_version = TORCH_VERSION;
#endif
  const bool graphs = train_step.uses_graphs();
  return {{"bench", "train"},
          {"impl", "layerwise"},
          {"mode", graphs              ? "graph"
                   : optimizer.fused() ? "eager"
                                       : "eager-loop"},
          {"cuda_graphs", graphs},
          {"replayed_steps", train_step.replayed_steps()},
          {"graph_failure", train_step.graph_failure()},
          {"fused_adamw", optimizer.fused()},
          {"model", label},
          {"objective", lw::enum_name(objective)},
          {"batch", batch},
          {"bf16", bf16},
          {"device", o.device.str()},
          {"torch", torch_version},
          {"layers", config.n_layers},
          {"d_model", config.block.d_model},
          {"heads", config.block.n_heads},
          {"d_ff", config.block.d_ff},
          {"tokens", config.n_prefix_tokens() + config.n_patches()},
          {"image_size", config.image_size},
          {"channels", config.in_channels},
          {"patch", config.patch_size},
          {"classes", config.n_classes},
          {"pool", lw::enum_name(config.pool)},
          {"params", lw::model::count_parameters(*model)},
          {"warmup", o.warmup},
          {"steps", o.steps},
          {"repeats", o.repeats},
          {"first_step_s", first_step_s},
          {"ms_per_step", ms},
          {"ms_per_step_min", *std::min_element(window_ms.begin(), window_ms.end())},
          {"ms_per_step_max", *std::max_element(window_ms.begin(), window_ms.end())},
          {"images_per_second", images_per_second},
          {"flops_per_image_forward", flops.total()},
          {"flops_per_image_train", train_flops},
          {"flops_forward_parts",
           {{"patch_embed", flops.embed},
            {"qkv", flops.qkv},
            {"attn_scores", flops.scores},
            {"attn_values", flops.values},
            {"out_proj", flops.out_proj},
            {"mlp", flops.mlp},
            {"heads", flops.heads}}},
          {"peak_flops", o.peak},
          {"mfu", train_flops * images_per_second / o.peak},
          {"breakdown_steps", o.breakdown},
          {"phases", breakdown},
          {"final_loss", loss}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Training-step throughput of a layerwise ViT (the step of layerwise train)"};
  std::string preset = "base", objectives = "standard,aligned", batches = "256", device = "cpu",
              pool = "cls", json_path;
  int64_t layers = 0, d_model = 0, heads = 0, d_ff = 0, patch = 0, image = 0, channels = 0,
          classes = 0;
  BenchOptions o;
  bool no_bf16 = false;
  app.add_option("--preset", preset, "tiny, small, medium, base (28x28x1) or vit-b16 (224x224x3)")
      ->capture_default_str();
  app.add_option("--layers", layers, "override: transformer blocks");
  app.add_option("--d-model", d_model, "override: width");
  app.add_option("--heads", heads, "override: attention heads");
  app.add_option("--d-ff", d_ff, "override: MLP width");
  app.add_option("--patch-size", patch, "override: patch side");
  app.add_option("--image-size", image, "override: image side");
  app.add_option("--channels", channels, "override: image channels");
  app.add_option("--classes", classes, "override: classes");
  app.add_option("--pool", pool, "cls or mean")->capture_default_str();
  app.add_option("--objective", objectives, "comma-separated: standard, aligned, multihead")
      ->capture_default_str();
  app.add_option("--batch", batches, "comma-separated batch sizes")->capture_default_str();
  app.add_option("--device", device, "cpu or cuda[:N]")->capture_default_str();
  app.add_flag("--no-bf16", no_bf16, "CUDA: float32 instead of bf16 autocast");
  bool no_graphs = false, no_fused = false;
  app.add_flag("--no-cuda-graphs", no_graphs, "eager steps (the trainer's --no-cuda-graphs)");
  app.add_flag("--no-fused", no_fused, "AdamW one parameter at a time (implies eager steps)");
  app.add_option("--warmup", o.warmup,
                 "untimed steps first (the first is timed alone; with CUDA graphs the "
                 "third step captures the graph: keep >= 3)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--steps", o.steps, "timed steps per window")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--repeats", o.repeats, "timed windows (the median is reported)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--breakdown", o.breakdown, "then this many steps timed phase by phase")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  app.add_option("--peak-flops", o.peak, "MFU denominator (FLOP/s)")->capture_default_str();
  app.add_option("--json", json_path, "also append the JSON lines to this file");
  CLI11_PARSE(app, argc, argv);
  try {
    lw::configure_runtime(0);
    o.device = lw::compat::parse_device(device);
    o.bf16 = !no_bf16;
    o.cuda_graphs = !no_graphs;
    o.fused = !no_fused;
    auto config = bench_preset(preset);
    std::string label = preset;
    auto set = [&label](int64_t value, int64_t& field) {
      if (value > 0) {
        field = value;
        label = "custom";
      }
    };
    set(layers, config.n_layers);
    set(d_model, config.block.d_model);
    set(heads, config.block.n_heads);
    if (d_model > 0 && d_ff <= 0) config.block.d_ff = 4 * d_model;  // the presets' ratio
    set(d_ff, config.block.d_ff);
    set(patch, config.patch_size);
    set(image, config.image_size);
    set(channels, config.in_channels);
    set(classes, config.n_classes);
    config.pool = lw::parse_enum<lw::model::Pooling>(pool, "--pool");
    if (config.pool != lw::model::Pooling::cls) label += "-" + pool;
    std::FILE* json_file = nullptr;
    if (!json_path.empty()) {
      json_file = std::fopen(json_path.c_str(), "a");
      LW_CHECK(json_file, "cannot append to '", json_path, "'");
    }
    std::fprintf(stderr, "MFU against %.4g FLOP/s (dense bf16 datasheet rate of H100/H200 SXM)\n",
                 o.peak);
    std::fprintf(stderr, "%-10s %-10s %-10s %6s %5s %6s %10s %10s %12s %12s %7s\n", "model",
                 "objective", "step", "batch", "bf16", "tokens", "params", "ms/step", "images/s",
                 "GFLOP/img", "MFU");
    for (const auto& batch_text : split_list(batches)) {
      const int64_t batch = std::stoll(batch_text);
      LW_CHECK(batch >= 1, "--batch: sizes must be >= 1, got ", batch);
      for (const auto& name : split_list(objectives)) {
        const auto objective = lw::parse_enum<lw::train::Objective>(name, "--objective");
        const auto line = bench_one(config, label, objective, batch, o);
        std::printf("%s\n", line.dump().c_str());
        std::fflush(stdout);
        if (json_file) {
          std::fprintf(json_file, "%s\n", line.dump().c_str());
          std::fflush(json_file);
        }
        std::fprintf(
            stderr, "%-10s %-10s %-10s %6lld %5s %6lld %10lld %10.2f %12.1f %12.2f %6.1f%%\n",
            label.c_str(), name.c_str(), line.at("mode").get<std::string>().c_str(),
            (long long)batch, line.at("bf16").get<bool>() ? "yes" : "no",
            (long long)line.at("tokens").get<int64_t>(),
            (long long)line.at("params").get<int64_t>(), line.at("ms_per_step").get<double>(),
            line.at("images_per_second").get<double>(),
            line.at("flops_per_image_train").get<double>() / 1e9,
            100 * line.at("mfu").get<double>());
        if (!line.at("graph_failure").get<std::string>().empty())
          std::fprintf(stderr, "    CUDA graph capture failed, steps ran eagerly: %s\n",
                       line.at("graph_failure").get<std::string>().c_str());
        if (!line.at("phases").is_null())
          for (const std::string phase : {"forward_loss", "backward", "clip", "optimizer"}) {
            const auto& v = line.at("phases").at(phase);
            std::fprintf(stderr, "    %-13s host %8.2f ms  wall %8.2f ms  %6lld aten ops\n",
                         phase.c_str(), v.at("host_ms").get<double>(),
                         v.at("wall_ms").get<double>(), (long long)v.at("aten_ops").get<int64_t>());
          }
      }
    }
    if (json_file) std::fclose(json_file);
  } catch (const std::exception& e) {
    std::cerr << "bench_train: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
