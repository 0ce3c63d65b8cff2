#include "layerwise/exit/timing.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <tuple>
#include <vector>

#include "layerwise/core/compat.h"
#include "layerwise/core/cuda_graph.h"
#include "layerwise/core/error.h"
#include "layerwise/exit/runner.h"

namespace layerwise::exit {

namespace {

double seconds_of(const torch::Device& device, const std::function<void()>& body) {
  compat::synchronize(device);
  const auto start = std::chrono::steady_clock::now();
  body();
  compat::synchronize(device);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Median wall times of `repeats` runs of `a` and of `b`, after one warm-up run of each. The runs
// interleave (a b, b a, a b, ...), so that a slow spell of a shared machine hits both alike.
std::pair<double, double> paired_median_seconds(const torch::Device& device, int64_t repeats,
                                                const std::function<void()>& a,
                                                const std::function<void()>& b) {
  std::vector<double> times_a, times_b;
  for (int64_t i = 0; i <= repeats; ++i) {
    double ta = 0, tb = 0;
    if (i % 2 == 0) {  // a first, then b first: no side always runs in the other's wake
      ta = seconds_of(device, a);
      tb = seconds_of(device, b);
    } else {
      tb = seconds_of(device, b);
      ta = seconds_of(device, a);
    }
    if (i == 0) continue;  // warm-up
    times_a.push_back(ta);
    times_b.push_back(tb);
  }
  return {median(times_a), median(times_b)};
}

// The model as it would be served without early exit: every block, then the last head once.
// Where the runner replays graphs, full-size batches here replay one too (like against like).
class FullDepth {
 public:
  FullDepth(model::LayeredModel& model, const inference::InferenceOptions& options)
      : model_(model), options_(options) {
    graphs_ = options.cuda_graphs && options.device.is_cuda() && CudaGraph::available();
  }

  void run(const torch::Tensor& inputs) {
    inference::InferenceScope scope(model_, options_);
    for (int64_t start = 0; start < inputs.size(0); start += options_.batch_size) {
      const auto x = inputs.slice(0, start, std::min(inputs.size(0), start + options_.batch_size))
                         .to(options_.device);
      const bool full = graphs_ && x.size(0) == options_.batch_size;
      (full ? replay(x) : model_.forward(x).argmax(-1)).cpu();  // predictions reach the host
    }
  }

 private:
  // The first full batch runs eagerly, the second is captured; then replays.
  torch::Tensor replay(const torch::Tensor& x) {
    if (calls_++ == 0) return model_.forward(x).argmax(-1);
    if (!static_x_.defined()) {
      static_x_ = x.clone();
      graph_.capture(options_.device, [&] { predictions_ = model_.forward(static_x_).argmax(-1); });
    } else {
      static_x_.copy_(x);
    }
    graph_.replay();
    return predictions_;
  }

  model::LayeredModel& model_;
  const inference::InferenceOptions& options_;
  bool graphs_ = false;
  int64_t calls_ = 0;
  CudaGraph graph_;
  torch::Tensor static_x_, predictions_;
};

}  // namespace

ExitTiming time_early_exit(model::LayeredModel& model, const torch::Tensor& inputs,
                           const ExitPolicy& policy, inference::HeadChoice heads,
                           const inference::InferenceOptions& options, Schedule schedule,
                           int64_t repeats) {
  LW_CHECK(inputs.size(0) > 0, "timing early exit: no samples");
  LW_CHECK(repeats >= 1, "timing early exit: repeats must be >= 1, got ", repeats);
  ExitTiming timing;
  timing.batch_size = options.batch_size;
  timing.schedule = schedule;
  timing.device = options.device.str();
  timing.samples = inputs.size(0);
  ExitResult result;
  ExitGraphs graphs;  // captured in the warm-up runs, replayed in the timed ones
  FullDepth full_depth(model, options);
  std::tie(timing.early_exit_seconds, timing.full_depth_seconds) = paired_median_seconds(
      options.device, repeats,
      [&] { result = run_early_exit(model, inputs, policy, heads, options, schedule, &graphs); },
      [&] { full_depth.run(inputs); });
  timing.mean_exit_layer = result.exit_layer.to(torch::kFloat64).mean().item<double>();
  timing.speedup_layers = double(model.n_layers()) / timing.mean_exit_layer;
  timing.speedup_wall = timing.full_depth_seconds / timing.early_exit_seconds;
  return timing;
}

nlohmann::json to_json(const ExitTiming& t) {
  return {{"batch_size", t.batch_size},
          {"schedule", enum_name(t.schedule)},
          {"device", t.device},
          {"samples", t.samples},
          {"early_exit_seconds", t.early_exit_seconds},
          {"full_depth_seconds", t.full_depth_seconds},
          {"mean_exit_layer", t.mean_exit_layer},
          {"speedup_layers", t.speedup_layers},
          {"speedup_wall", t.speedup_wall},
          {"efficiency", t.efficiency()}};
}

}  // namespace layerwise::exit
