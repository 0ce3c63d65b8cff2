#include "layerwise/exit/runner.h"

#include <map>
#include <memory>
#include <vector>

#include "layerwise/core/compat.h"
#include "layerwise/core/cuda_graph.h"
#include "layerwise/core/error.h"

namespace layerwise::exit {

namespace {

// Rows on their way through the model: hidden states and what travels with them.
struct Rows {
  torch::Tensor h;      // (n, T, D) hidden state before the next block
  torch::Tensor mask;   // (n, T) token mask, or undefined
  torch::Tensor index;  // (n) int64 position in the inputs
  PolicyState state;    // (n) per-row policy memory

  int64_t size() const { return index.defined() ? index.size(0) : 0; }
  Rows select(const torch::Tensor& keep) const {  // keep: (n') int64 row numbers
    return {h.index_select(0, keep), mask.defined() ? mask.index_select(0, keep) : mask,
            index.index_select(0, keep), select_rows(state, keep)};
  }
  Rows slice(int64_t begin, int64_t end) const {
    return {h.slice(0, begin, end), mask.defined() ? mask.slice(0, begin, end) : mask,
            index.slice(0, begin, end), slice_rows(state, begin, end)};
  }
};

Rows concat(const Rows& a, const Rows& b) {
  if (a.size() == 0) return b;
  return {torch::cat({a.h, b.h}), a.mask.defined() ? torch::cat({a.mask, b.mask}) : a.mask,
          torch::cat({a.index, b.index}), concat_rows(a.state, b.state)};
}

// Where each input's result goes: (N) buffers on the device, written without host syncs.
struct Outputs {
  torch::Tensor predictions, exit_layer, confidence;

  // out[rows] = where(leaving, values, out[rows]): the rows that leave write their results.
  static void write(torch::Tensor& out, const torch::Tensor& index, const torch::Tensor& leaving,
                    const torch::Tensor& values) {
    out.index_copy_(0, index, torch::where(leaving, values, out.index_select(0, index)));
  }
};

// What a block call decides for its rows: (b) each.
struct Decision {
  torch::Tensor leaving, top_p, top_class;  // bool, float32, int64
};

// A captured block call at the full batch size: static inputs, the graph, its static outputs.
struct CapturedBlock {
  CudaGraph graph;
  Rows in;   // h, mask, state (index unused)
  Rows out;  // h after the block, state after the rule
  Decision decision;
};

}  // namespace

// Keyed by the layer and the shape of the hidden state (b, T, D).
struct ExitGraphs::Impl {
  std::map<std::vector<int64_t>, int64_t> calls;  // full-size calls seen (the first runs eagerly)
  std::map<std::vector<int64_t>, CapturedBlock> blocks;
};

ExitGraphs::ExitGraphs() : impl(std::make_unique<Impl>()) {}
ExitGraphs::~ExitGraphs() = default;

namespace {

class Runner {
 public:
  Runner(model::LayeredModel& model, const torch::Tensor& inputs, const ExitPolicy& policy,
         inference::HeadChoice heads, const inference::InferenceOptions& options, Schedule schedule,
         ExitGraphs* graphs)
      : model_(model),
        inputs_(inputs),
        policy_(policy),
        heads_(heads),
        options_(options),
        schedule_(schedule),
        graphs_(graphs),
        waiting_(size_t(model.n_layers()) + 1) {
    const int64_t n = inputs.size(0);
    const auto long_options = torch::dtype(torch::kInt64).device(options.device);
    out_ = {torch::full({n}, -1, long_options), torch::zeros({n}, long_options),
            torch::zeros({n}, torch::dtype(torch::kFloat32).device(options.device))};
  }

  ExitResult run() {
    for (;;) {
      int64_t layer = next_layer();
      if (layer == 0 && next_input_ < inputs_.size(0)) {
        admit_next_batch();
        continue;
      }
      // Inputs used up: flush from the shallowest block, so that the rows it lets through join
      // those waiting deeper and each block runs once more, not once per shallower flush.
      if (layer == 0) layer = shallowest_waiting();
      if (layer == 0) break;
      run_block(layer);
    }
    return {out_.predictions.cpu(), out_.exit_layer.cpu(), out_.confidence.cpu()};
  }

 private:
  // The deepest block that may run now, 0 if none: under `batch`, any rows waiting (one input
  // batch is in flight at a time); under `stream`, only a full batch.
  int64_t next_layer() const {
    return deepest_waiting(schedule_ == Schedule::batch ? 1 : options_.batch_size);
  }

  int64_t deepest_waiting(int64_t at_least) const {
    for (int64_t layer = model_.n_layers(); layer >= 1; --layer)
      if (waiting_[layer].size() >= at_least) return layer;
    return 0;
  }

  int64_t shallowest_waiting() const {
    for (int64_t layer = 1; layer <= model_.n_layers(); ++layer)
      if (waiting_[layer].size() > 0) return layer;
    return 0;
  }

  void admit_next_batch() {
    const int64_t begin = next_input_, n = inputs_.size(0);
    const int64_t end = std::min(n, begin + options_.batch_size);
    next_input_ = end;
    const auto x = inputs_.slice(0, begin, end).to(options_.device);
    const auto index =
        torch::arange(begin, end, torch::dtype(torch::kInt64).device(options_.device));
    Rows rows{model_.embed(x), model_.token_mask(x), index,
              initial_state(end - begin, options_.device)};
    waiting_[1] = concat(waiting_[1], rows);
  }

  // Block `layer` on up to batch_size of the rows waiting for it (oldest first); the rows that
  // stay wait for the next block.
  void run_block(int64_t layer) {
    auto& queue = waiting_[layer];
    const int64_t take = std::min(queue.size(), options_.batch_size);
    Rows rows = queue.slice(0, take);
    queue = take == queue.size() ? Rows{} : queue.slice(take, queue.size());

    const bool graphed = graphs_ != nullptr && take == options_.batch_size;
    const auto d = graphed ? replay_block(layer, rows) : decide(layer, rows);
    Outputs::write(out_.predictions, rows.index, d.leaving, d.top_class);
    Outputs::write(out_.exit_layer, rows.index, d.leaving, torch::full_like(d.top_class, layer));
    Outputs::write(out_.confidence, rows.index, d.leaving, d.top_p);
    if (layer == model_.n_layers()) return;
    const auto staying = d.leaving.logical_not().nonzero().squeeze(1);  // (b') the host sync
    if (staying.size(0) == 0) return;
    auto& next = waiting_[layer + 1];
    if (staying.size(0) < take)
      rows = rows.select(staying);
    else if (graphed)  // the graph's outputs are overwritten by its next replay
      rows = {rows.h.clone(),
              rows.mask,
              rows.index,
              {rows.state.last_class.clone(), rows.state.streak.clone()}};
    next = concat(next, rows);
  }

  // Block `layer` on `rows`, then the classifier and the exit rule; rows.h and rows.state move on.
  Decision decide(int64_t layer, Rows& rows) {
    rows.h = model_.block(layer, rows.h, rows.mask);  // (b, T, D)
    const auto z = model_.pool(rows.h, rows.mask);    // (b, D)
    const auto logits =
        heads_ == inference::HeadChoice::last ? model_.head(z) : model_.head_at(z, layer);
    auto leaving = should_exit(policy_, logits, layer, model_.n_layers(), rows.state);
    auto [top_p, top_class] = logits.to(torch::kFloat32).softmax(-1).max(-1);  // (b), (b)
    return {leaving, top_p, top_class};
  }

  // decide() as a replayed graph: the first full-size call of a layer runs eagerly (lazy
  // initialization stays out of the graph), the second captures it.
  Decision replay_block(int64_t layer, Rows& rows) {
    auto& cache = *graphs_->impl;
    auto key = rows.h.sizes().vec();
    key.insert(key.begin(), layer);
    auto found = cache.blocks.find(key);
    if (found == cache.blocks.end()) {
      if (cache.calls[key]++ == 0) return decide(layer, rows);
      auto& block = cache.blocks[key];
      block.in = {rows.h.clone(),
                  rows.mask.defined() ? rows.mask.clone() : rows.mask,
                  rows.index,
                  {rows.state.last_class.clone(), rows.state.streak.clone()}};
      block.graph.capture(options_.device, [&] {
        block.out = block.in;
        block.decision = decide(layer, block.out);
      });
      found = cache.blocks.find(key);
    } else {
      auto& in = found->second.in;
      in.h.copy_(rows.h);
      if (in.mask.defined()) in.mask.copy_(rows.mask);
      in.state.last_class.copy_(rows.state.last_class);
      in.state.streak.copy_(rows.state.streak);
    }
    auto& block = found->second;
    block.graph.replay();
    rows.h = block.out.h;
    rows.state = block.out.state;
    return block.decision;
  }

  model::LayeredModel& model_;
  const torch::Tensor& inputs_;
  const ExitPolicy& policy_;
  inference::HeadChoice heads_;
  const inference::InferenceOptions& options_;
  Schedule schedule_;
  ExitGraphs* graphs_;         // null: every call eager
  std::vector<Rows> waiting_;  // [layer]: rows waiting to enter block `layer` (index 0 unused)
  int64_t next_input_ = 0;
  Outputs out_;
};

}  // namespace

ExitResult run_early_exit(model::LayeredModel& model, const torch::Tensor& inputs,
                          const ExitPolicy& policy, inference::HeadChoice heads,
                          const inference::InferenceOptions& options, Schedule schedule,
                          ExitGraphs* graphs) {
  validate(policy);
  LW_CHECK(options.batch_size > 0, "batch size must be positive, got ", options.batch_size);
  LW_CHECK(policy.kind != PolicyKind::depth || policy.threshold <= double(model.n_layers()),
           "the depth policy's threshold is ", policy.threshold, " but the model has ",
           model.n_layers(), " layers");
  LW_CHECK(!model.per_token(), "early exit is for models with one prediction per sample; ",
           model.config().arch, " predicts every token");
  inference::InferenceScope scope(model, options);
  // Graphs where they can be captured; without a cache from the caller, one for this run.
  const bool use_graphs = options.cuda_graphs && options.device.is_cuda() && CudaGraph::available();
  std::unique_ptr<ExitGraphs> own;
  if (use_graphs && graphs == nullptr) graphs = (own = std::make_unique<ExitGraphs>()).get();
  return Runner(model, inputs, policy, heads, options, schedule, use_graphs ? graphs : nullptr)
      .run();
}

}  // namespace layerwise::exit
