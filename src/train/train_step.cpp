#include "layerwise/train/train_step.h"

#include "layerwise/core/compat.h"
#include "layerwise/core/error.h"
#include "layerwise/distributed/gradients.h"

namespace layerwise::train {

namespace {

// Eager steps of a shape before its graph is captured (the warm-up PyTorch recommends).
constexpr int64_t kWarmupSteps = 2;

std::vector<int64_t> shape_key(const torch::Tensor& x, const torch::Tensor& y) {
  auto key = x.sizes().vec();
  key.push_back(-1);  // separator
  for (const auto s : y.sizes()) key.push_back(s);
  return key;
}

}  // namespace

AdamWConfig adamw_config(const TrainConfig& train) {
  AdamWConfig config{train.beta1, train.beta2, train.adam_eps, train.weight_decay};
  config.own_lr_scale = train.weight_lr_scale;
  return config;
}

StepSettings step_settings(const TrainConfig& train, int64_t n_layers,
                           const torch::Device& device) {
  const auto weights = layer_weights(weight_schedule(train), n_layers);
  const bool learned = train.layer_weighting == LayerWeighting::learned &&
                       train.objective != Objective::standard;  // standard reads one layer
  StepSettings settings{train.objective,
                        learned
                            ? LayerLossWeights::learned(n_layers, device)
                            : torch::tensor(weights, torch::kFloat64).to(device, torch::kFloat32),
                        train.label_smoothing,
                        train.clip_norm,
                        train.bf16 && device.is_cuda(),
                        train.cuda_graphs};
  settings.distill = {train.distill, train.distill_temperature};
  return settings;
}

NamedTensors objective_parameters(const StepSettings& settings) {
  if (!settings.layer_weights.is_learned()) return {};
  return {{"objective.layer_log_variance", settings.layer_weights.log_variance}};
}

// A captured step: static input buffers, the graph, and the outputs it overwrites on each replay.
struct TrainStep::Captured {
  torch::Tensor x, y;
  CudaGraph graph;
  StepOutputs outputs;
};

TrainStep::TrainStep(model::LayeredModel& model, AdamW& optimizer, StepSettings settings)
    : model_(model), optimizer_(optimizer), settings_(std::move(settings)) {
  graphs_enabled_ =
      settings_.cuda_graphs && CudaGraph::available() && optimizer_.fused() && !data_parallel();
}

TrainStep::~TrainStep() = default;

StepOutputs TrainStep::forward_backward_update(const torch::Tensor& x, const torch::Tensor& y) {
  auto result = [&] {
    compat::Bf16AutocastScope autocast(settings_.bf16);
    return objective_loss(model_, settings_.objective, settings_.layer_weights, x, y,
                          settings_.label_smoothing, settings_.distill);
  }();
  StepOutputs outputs;
  if (data_parallel()) {
    outputs = data_parallel_backward(result);
  } else {
    result.loss.backward();
    outputs = {result.loss.detach(), result.layer_loss, result.correct, result.items, {},
               result.distill};
  }
  outputs.grad_norm = clip_grad_norm(optimizer_.parameters(), settings_.clip_norm);
  optimizer_.update();
  return outputs;
}

// Each rank's loss is the mean over its own items. Weighted by the rank's share of the global
// batch's items, the ranks' gradients sum to the gradient of the mean over the global batch:
// the step of one process on the whole batch, whatever the number of ranks.
StepOutputs TrainStep::data_parallel_backward(ObjectiveResult& result) {
  auto& comm = *settings_.comm;
  const auto options = result.loss.options().dtype(torch::kFloat64);
  std::vector<torch::Tensor> total{result.items.to(options).reshape({1})};  // (1)
  comm.all_reduce_sum(total);
  const auto share = (result.items.to(options) / total[0].clamp_min(1)).squeeze();  // ()
  if (!reducer_) {
    std::vector<torch::Tensor> params;
    for (const auto& named : optimizer_.parameters()) params.push_back(named.second);
    reducer_ = std::make_unique<distributed::GradientReducer>(comm, params);
  }
  reducer_->begin();  // buckets are summed while backward runs
  (result.loss * share.to(result.loss.scalar_type())).backward();
  reducer_->finish();
  // The log's numbers, of the global batch: [loss, layer losses (L), hits, items, distillation].
  const int64_t n_layers = result.layer_loss.numel();
  std::vector<torch::Tensor> stats{torch::cat({
      (result.loss.detach().to(options) * share).reshape({1}),
      result.layer_loss.to(options) * share,
      result.correct.to(options).reshape({1}),
      result.items.to(options).reshape({1}),
      (result.distill.to(options) * share).reshape({1}),
  })};  // (L + 4)
  comm.all_reduce_sum(stats);
  const auto& s = stats[0];
  return {s[0], s.slice(0, 1, 1 + n_layers), s[1 + n_layers], s[2 + n_layers], {}, s[3 + n_layers]};
}

StepOutputs TrainStep::eager(const torch::Tensor& x, const torch::Tensor& y) {
  optimizer_.zero_grad();  // drops gradients a captured graph may have left attached
  auto outputs = forward_backward_update(x, y);
  optimizer_.zero_grad();
  return outputs;
}

StepOutputs TrainStep::run(const torch::Tensor& x, const torch::Tensor& y, double lr) {
  optimizer_.set_lr(lr);
  const auto key = shape_key(x, y);
  const int64_t seen = seen_[key]++;
  if (!graphs_enabled_ || seen < kWarmupSteps) return eager(x, y);
  auto& captured = graphs_[key];
  if (!captured) {
    captured = std::make_unique<Captured>();
    captured->x = x.clone();
    captured->y = y.clone();
    optimizer_.zero_grad();  // gradients are born inside the graph
    try {
      captured->graph.capture(x.device(), [&] {
        captured->outputs = forward_backward_update(captured->x, captured->y);
      });
    } catch (const std::exception& e) {
      // Nothing of the captured step ran: fall back to eager steps for good, and say why.
      const std::string message = e.what();
      graph_failure_ = message.substr(0, message.find('\n'));
      graphs_enabled_ = false;
      graphs_.clear();
      return eager(x, y);
    }
    optimizer_.zero_grad();
  } else {
    captured->x.copy_(x);
    captured->y.copy_(y);
  }
  captured->graph.replay();  // the captured step ran nothing: the first replay is its step
  ++replayed_;
  // The graph overwrites its outputs on the next replay: the log keeps copies.
  const auto& o = captured->outputs;
  return {o.loss.clone(),  o.layer_loss.clone(), o.correct.clone(),
          o.items.clone(), o.grad_norm.clone(),  o.distill.clone()};
}

}  // namespace layerwise::train
