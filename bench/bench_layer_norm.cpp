// Fused residual add + LayerNorm (model::add_layer_norm) against the ATen ops it replaces, as a
// pre-norm block runs them under bf16 autocast: h = x + delta (float32 stream, bf16 branch),
// layer_norm in float32, the cast of its output to bf16; and their backward with gradients for
// the stream, the branch, weight and bias.
//
//   build/bench/bench_layer_norm --device cuda --rows 12800,50432 --width 768
//
// One line per shape and pass (forward; forward + backward): milliseconds per call for both, the
// ratio, and the fused path's effective bandwidth (bytes it must move / time). Median of
// --repeats windows of --iters calls, the device synchronized before each clock read.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <sstream>
#include <vector>

#include "layerwise/core/compat.h"
#include "layerwise/core/error.h"
#include "layerwise/core/runtime.h"
#include "layerwise/model/fused_layer_norm.h"

namespace {

double median_ms(const std::function<void()>& step, const torch::Device& device, int iters,
                 int repeats) {
  for (int i = 0; i < 3; ++i) step();  // warm-up: allocator, autocast cache
  std::vector<double> windows;
  for (int r = 0; r < repeats; ++r) {
    layerwise::compat::synchronize(device);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) step();
    layerwise::compat::synchronize(device);
    const std::chrono::duration<double, std::milli> elapsed =
        std::chrono::steady_clock::now() - start;
    windows.push_back(elapsed.count() / iters);
  }
  std::sort(windows.begin(), windows.end());
  return windows[windows.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fused residual add + LayerNorm against the ATen composition"};
  std::string device_name = "cuda", rows_list = "12800,50432";
  int64_t width = 768;
  int iters = 100, repeats = 5;
  app.add_option("--device", device_name, "cpu or cuda[:N]")->capture_default_str();
  app.add_option("--rows", rows_list, "rows (batch x tokens), comma-separated")
      ->capture_default_str();
  app.add_option("--width", width, "D")->capture_default_str();
  app.add_option("--iters", iters, "calls per timed window")->capture_default_str();
  app.add_option("--repeats", repeats, "timed windows (median kept)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    layerwise::configure_runtime(0);
    const auto device = layerwise::compat::parse_device(device_name);
    const bool autocast = device.is_cuda();
    const auto out_dtype = autocast ? torch::kBFloat16 : torch::kFloat;
    const auto branch_dtype = autocast ? torch::kBFloat16 : torch::kFloat;
    std::printf("device %s, fused kernels %s, D = %ld, out %s\n", device.str().c_str(),
                layerwise::model::fused_layer_norm_available() ? "compiled" : "absent",
                static_cast<long>(width), autocast ? "bf16 (autocast)" : "float32");
    std::printf("%-8s %-18s %10s %10s %8s %10s\n", "rows", "pass", "aten ms", "fused ms",
                "speed-up", "fused GB/s");
    std::stringstream rows_in(rows_list);
    for (std::string item; std::getline(rows_in, item, ',');) {
      const int64_t rows = std::stoll(item);
      torch::manual_seed(0);
      const auto opts = torch::TensorOptions().device(device);
      const auto x = torch::randn({rows, width}, opts).requires_grad_();
      const auto delta = torch::randn({rows, width}, opts).to(branch_dtype).requires_grad_();
      const auto weight = torch::ones({width}, opts).requires_grad_();
      const auto bias = torch::zeros({width}, opts).requires_grad_();
      const auto grad_sum = torch::randn({rows, width}, opts);
      const auto grad_normed = torch::randn({rows, width}, opts).to(out_dtype);
      const double eps = 1e-6;

      const auto aten = [&] {
        layerwise::compat::Bf16AutocastScope scope(autocast);
        const auto h = x + delta;  // (rows, D) float32
        return layerwise::model::AddNormResult{
            h, torch::layer_norm(h, {width}, weight, bias, eps).to(out_dtype)};
      };
      const auto fused = [&] {
        layerwise::compat::Bf16AutocastScope scope(autocast);
        return layerwise::model::add_layer_norm(x, delta, weight, bias, eps, out_dtype);
      };
      const auto backward = [&](const layerwise::model::AddNormResult& out) {
        torch::autograd::backward({out.sum, out.normed}, {grad_sum, grad_normed});
        for (auto t : {x, delta, weight, bias}) t.mutable_grad() = torch::Tensor();
      };
      const double elems = double(rows) * double(width);
      const double x_bytes = 4, branch_bytes = autocast ? 2 : 4, out_bytes = autocast ? 2 : 4;
      // Forward: read x, delta; write sum, normed. Backward: read grad_normed, grad_sum, sum;
      // write grad_x, grad_delta (statistics, weight and the partial sums are negligible).
      const double forward_bytes = elems * (2 * x_bytes + branch_bytes + out_bytes);
      const double backward_bytes = elems * (out_bytes + 3 * x_bytes + branch_bytes);

      const auto report = [&](const char* pass, double aten_ms, double fused_ms, double bytes) {
        std::printf("%-8ld %-18s %10.4f %10.4f %7.2fx %10.1f\n", static_cast<long>(rows), pass,
                    aten_ms, fused_ms, aten_ms / fused_ms, bytes / (fused_ms * 1e-3) / 1e9);
      };
      {
        torch::NoGradGuard no_grad;
        report("forward", median_ms([&] { aten(); }, device, iters, repeats),
               median_ms([&] { fused(); }, device, iters, repeats), forward_bytes);
      }
      report("forward+backward", median_ms([&] { backward(aten()); }, device, iters, repeats),
             median_ms([&] { backward(fused()); }, device, iters, repeats),
             forward_bytes + backward_bytes);
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_layer_norm: %s\n", error.what());
    return 1;
  }
  return 0;
}
