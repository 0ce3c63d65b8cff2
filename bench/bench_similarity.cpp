// Times the whole L x L similarity matrices (cos, linear, debiased and RBF CKA) of the engine
// against a straightforward pair-by-pair implementation, on CPU or CUDA, and checks both against
// float64.
//
//   build/bench/bench_similarity --device cuda --n 1000,10000,50000 --layers 13 --width 768
//
// Prints a table and, with --json FILE, one JSON object per measurement (the format of
// bench/similarity_reference.py, the PyTorch Python version, so that both can be read together).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

#include "layerwise/analysis/cka.h"
#include "layerwise/analysis/similarity.h"
#include "layerwise/core/compat.h"
#include "layerwise/core/runtime.h"
#include "layerwise/core/version.h"

namespace la = layerwise::analysis;
using Clock = std::chrono::steady_clock;

namespace {

struct Flags {
  std::string device = "cpu", sizes = "1000,5000", metrics = "cos,cka_linear,cka_debiased,cka_rbf";
  int64_t layers = 13, width = 768, repeats = 3, baseline_max_n = 5000, threads = 0;
  bool tf32 = false, check = true;
  std::string json;
};

// A residual stream: layer l = layer l-1 + noise, so neighbouring layers are similar.
la::Layers make_layers(int64_t n, int64_t n_layers, int64_t width, const torch::Device& device) {
  torch::manual_seed(0);
  la::Layers layers;
  auto h = torch::randn({n, width});
  for (int64_t l = 0; l < n_layers; ++l) {
    if (l > 0) h = h + 0.5 * torch::randn({n, width});
    layers.push_back(h.to(device));
  }
  return layers;
}

// Median and minimum seconds of `repeats` runs after one warm-up run.
std::pair<double, double> time_it(const std::function<void()>& body, int64_t repeats,
                                  const torch::Device& device) {
  body();
  layerwise::compat::synchronize(device);
  std::vector<double> seconds;
  for (int64_t r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    body();
    layerwise::compat::synchronize(device);
    seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return {seconds[seconds.size() / 2], seconds.front()};
}

// ---- the pair-by-pair baseline: one pair at a time, each pair's own products, a sync per pair
// ----

torch::Tensor centered(const torch::Tensor& x) {
  return x - x.mean(0, true);
}

double pair_cos(const torch::Tensor& x, const torch::Tensor& y) {
  return torch::cosine_similarity(x, y, 1).mean().item<double>();
}

double pair_cka_linear(const torch::Tensor& x, const torch::Tensor& y) {
  const auto cx = centered(x), cy = centered(y);
  const auto cross = cy.t().mm(cx).pow(2).sum();
  return (cross / (cx.t().mm(cx).norm() * cy.t().mm(cy).norm())).item<double>();
}

double pair_hsic_unbiased(const torch::Tensor& k, const torch::Tensor& l) {
  const double n = static_cast<double>(k.size(0));
  auto kt = k.clone().fill_diagonal_(0), lt = l.clone().fill_diagonal_(0);
  const auto value = (kt * lt).sum() + kt.sum() * lt.sum() / ((n - 1) * (n - 2)) -
                     2.0 / (n - 2) * kt.sum(0).dot(lt.sum(0));
  return value.item<double>() / (n * (n - 3));
}

double pair_cka_debiased(const torch::Tensor& x, const torch::Tensor& y) {
  const auto cx = centered(x), cy = centered(y);
  const auto k = cx.mm(cx.t()), l = cy.mm(cy.t());
  return pair_hsic_unbiased(k, l) / std::sqrt(pair_hsic_unbiased(k, k) * pair_hsic_unbiased(l, l));
}

torch::Tensor pair_rbf_gram(const torch::Tensor& x, double threshold) {
  const auto d2 = torch::cdist(x, x).pow(2);
  const auto sorted = std::get<0>(d2.reshape({-1}).sort());
  const int64_t count = sorted.numel();
  const auto median = (sorted[(count - 1) / 2] + sorted[count / 2]) / 2;
  const auto k = torch::exp(-d2 / (2 * threshold * threshold * median));
  return k - k.mean(0, true) - k.mean(1, true) + k.mean();  // H K H
}

double pair_cka_rbf(const torch::Tensor& x, const torch::Tensor& y) {
  const auto k = pair_rbf_gram(x, 0.5), l = pair_rbf_gram(y, 0.5);
  return ((k * l).sum() / (k.norm() * l.norm())).item<double>();
}

torch::Tensor pairwise(const std::string& metric, const la::Layers& layers) {
  const std::map<std::string, std::function<double(const torch::Tensor&, const torch::Tensor&)>>
      measures = {{"cos", pair_cos},
                  {"cka_linear", pair_cka_linear},
                  {"cka_debiased", pair_cka_debiased},
                  {"cka_rbf", pair_cka_rbf}};
  const auto& measure = measures.at(metric);
  const int64_t n_layers = static_cast<int64_t>(layers.size());
  auto out = torch::zeros({n_layers, n_layers}, torch::kFloat64);
  for (int64_t i = 0; i < n_layers; ++i)
    for (int64_t j = 0; j < n_layers; ++j) out[i][j] = measure(layers[i], layers[j]);
  return out;
}

std::vector<int64_t> parse_sizes(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) out.push_back(std::stoll(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Times the engine's L x L similarity matrices against a pair-by-pair baseline"};
  Flags flags;
  app.add_option("--device", flags.device, "cpu or cuda")->capture_default_str();
  app.add_option("--n", flags.sizes, "comma-separated sample counts")->capture_default_str();
  app.add_option("--layers", flags.layers, "L")->capture_default_str();
  app.add_option("--width", flags.width, "D")->capture_default_str();
  app.add_option("--metrics", flags.metrics, "measures to time")->capture_default_str();
  app.add_option("--repeats", flags.repeats, "timed runs after a warm-up")->capture_default_str();
  app.add_option("--baseline-max-n", flags.baseline_max_n,
                 "largest N for the pair-by-pair baseline (its RBF holds N x N kernels)")
      ->capture_default_str();
  app.add_option("--threads", flags.threads, "CPU threads (0: all cores)");
  app.add_flag("--tf32,!--no-tf32", flags.tf32, "TF32 matrix products on CUDA");
  app.add_flag("--check,!--no-check", flags.check, "compare with float64 at the smallest N");
  app.add_option("--json", flags.json, "append JSON lines to this file");
  CLI11_PARSE(app, argc, argv);
  layerwise::configure_runtime(static_cast<int>(flags.threads));
  const torch::Device device(flags.device);
  layerwise::compat::set_cuda_tf32(flags.tf32);
  const auto metrics = la::parse_metrics(flags.metrics);
  std::ofstream json;
  if (!flags.json.empty()) json.open(flags.json, std::ios::app);

  std::printf("layerwise %s, LibTorch %d.%d, %s, %d threads, tf32 %s\n",
              layerwise::version_string().c_str(), TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR,
              flags.device.c_str(), torch::get_num_threads(), flags.tf32 ? "on" : "off");
  std::printf("%8s %-13s %12s %12s %9s %12s\n", "N", "metric", "engine_s", "pairwise_s", "ratio",
              "max_err_f64");
  const auto report = [&](const std::string& impl, int64_t n, const std::string& metric,
                          std::pair<double, double> t, double error) {
    if (!json.is_open()) return;
    json << "{\"impl\": \"" << impl << "\", \"device\": \"" << flags.device << "\", \"n\": " << n
         << ", \"layers\": " << flags.layers << ", \"width\": " << flags.width << ", \"metric\": \""
         << metric << "\", \"median_s\": " << t.first << ", \"min_s\": " << t.second
         << ", \"tf32\": " << (flags.tf32 ? "true" : "false") << ", \"max_err_f64\": " << error
         << ", \"torch\": \"" << TORCH_VERSION_MAJOR << '.' << TORCH_VERSION_MINOR << "\"}\n";
  };
  const auto sizes = parse_sizes(flags.sizes);
  for (const int64_t n : sizes) {
    const auto layers = make_layers(n, flags.layers, flags.width, device);
    std::map<std::string, torch::Tensor> exact;
    if (flags.check && n == sizes.front()) {
      la::Layers f64;
      for (const auto& x : layers) f64.push_back(x.to(torch::kCPU, torch::kFloat64));
      exact = la::compute_similarity(metrics, f64, f64);
    }
    double total = 0;
    for (const auto& metric : metrics) {
      torch::Tensor result;
      const auto engine =
          time_it([&] { result = la::compute_similarity({metric}, layers, layers).at(metric); },
                  flags.repeats, device);
      total += engine.first;
      const double error =
          exact.count(metric) ? (result - exact.at(metric)).abs().max().item<double>() : -1.0;
      std::pair<double, double> pair_time{-1, -1};
      if (n <= flags.baseline_max_n) {
        pair_time = time_it([&] { pairwise(metric, layers); }, 1, device);
        report("pairwise", n, metric, pair_time, -1);
      }
      report("layerwise", n, metric, engine, error);
      std::printf("%8lld %-13s %12.4f %12.4f %9.1f %12.2e\n", static_cast<long long>(n),
                  metric.c_str(), engine.first, pair_time.first,
                  pair_time.first > 0 ? pair_time.first / engine.first : 0.0, error);
    }
    // All measures in one call: linear and debiased CKA share one product of the layers.
    const auto together =
        time_it([&] { la::compute_similarity(metrics, layers, layers); }, flags.repeats, device);
    report("layerwise", n, "together", together, -1);
    std::printf("%8lld %-13s %12.4f  (one call; sum of the rows above: %.4f)\n",
                static_cast<long long>(n), "together", together.first, total);
    std::fflush(stdout);
  }
  return 0;
}
