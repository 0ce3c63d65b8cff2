#include "layerwise/exit/runner.h"

#include "layerwise/core/compat.h"
#include "layerwise/core/error.h"

namespace layerwise::exit {

namespace {

// out[rows] = where(leaving, values, out[rows]): the rows that leave write their results, the
// others keep theirs, without a host sync.
void write_leaving(torch::Tensor& out, const torch::Tensor& rows, const torch::Tensor& leaving,
                   const torch::Tensor& values) {
  out.index_copy_(0, rows, torch::where(leaving, values, out.index_select(0, rows)));
}

// The rows of one batch: runs them until every sample has exited, writing into the outputs at
// their positions in the batch. One host sync per layer: the number of rows that stay decides the
// next block's shape.
void run_batch(model::LayeredModel& model, const torch::Tensor& x, const ExitPolicy& policy,
               analysis::HeadChoice heads, torch::Tensor& predictions, torch::Tensor& exit_layer,
               torch::Tensor& confidence) {
  const int64_t n_layers = model.n_layers();
  LW_CHECK(!model.per_token(), "early exit is for models with one prediction per sample; ",
           model.config().arch, " predicts every token");
  auto mask = model.token_mask(x);  // (B, T) or undefined
  auto h = model.embed(x);          // (B, T, D)
  auto rows = torch::arange(x.size(0), torch::dtype(torch::kInt64).device(x.device()));  // (b)
  auto state = initial_state(x.size(0), x.device());
  for (int64_t layer = 1; layer <= n_layers; ++layer) {
    h = model.block(layer, h, mask);     // (b, T, D)
    const auto z = model.pool(h, mask);  // (b, D)
    const auto logits =
        heads == analysis::HeadChoice::last ? model.head(z) : model.head_at(z, layer);
    const auto leaving = should_exit(policy, logits, layer, n_layers, state);  // (b) bool
    const auto [top_p, top_class] = logits.to(torch::kFloat32).softmax(-1).max(-1);  // (b), (b)
    write_leaving(predictions, rows, leaving, top_class);
    write_leaving(exit_layer, rows, leaving, torch::full_like(top_class, layer));
    write_leaving(confidence, rows, leaving, top_p);
    if (layer == n_layers) break;
    const auto staying = leaving.logical_not().nonzero().squeeze(1);  // (b') the host sync
    if (staying.size(0) == 0) break;
    if (staying.size(0) == rows.size(0)) continue;  // nobody left: no gather
    h = h.index_select(0, staying);
    if (mask.defined()) mask = mask.index_select(0, staying);
    rows = rows.index_select(0, staying);
    state = select_rows(state, staying);
  }
}

}  // namespace

ExitResult run_early_exit(model::LayeredModel& model, const torch::Tensor& inputs,
                          const ExitPolicy& policy, analysis::HeadChoice heads,
                          const analysis::EvalOptions& options) {
  validate(policy);
  LW_CHECK(options.batch_size > 0, "batch size must be positive, got ", options.batch_size);
  LW_CHECK(policy.kind != PolicyKind::depth || policy.threshold <= double(model.n_layers()),
           "--threshold for depth is ", policy.threshold, " but the model has ", model.n_layers(),
           " layers");
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  if (options.bf16) compat::set_cuda_bf16_autocast(true);
  const int64_t n = inputs.size(0);
  std::vector<torch::Tensor> predictions, exit_layer, confidence;
  for (int64_t start = 0; start < n; start += options.batch_size) {
    const auto x =
        inputs.slice(0, start, std::min(n, start + options.batch_size)).to(options.device);
    const auto long_options = torch::dtype(torch::kInt64).device(options.device);
    auto p = torch::full({x.size(0)}, -1, long_options);
    auto e = torch::zeros({x.size(0)}, long_options);
    auto c = torch::zeros({x.size(0)}, torch::dtype(torch::kFloat32).device(options.device));
    run_batch(model, x, policy, heads, p, e, c);
    predictions.push_back(p.cpu());
    exit_layer.push_back(e.cpu());
    confidence.push_back(c.cpu());
  }
  if (options.bf16) compat::set_cuda_bf16_autocast(false);
  model.train(was_training);
  return {torch::cat(predictions), torch::cat(exit_layer), torch::cat(confidence)};
}

}  // namespace layerwise::exit
