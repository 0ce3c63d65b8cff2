#include "layerwise/analysis/layerwise_eval.h"

#include <cmath>

#include "layerwise/core/compat.h"
#include "layerwise/core/error.h"
#include "layerwise/core/matrix_io.h"
#include "layerwise/core/progress.h"
#include "layerwise/model/text_models.h"

namespace layerwise::analysis {

InferenceScope::InferenceScope(model::LayeredModel& model, const EvalOptions& options)
    : model_(model), was_training_(model.is_training()), bf16_(options.bf16) {
  LW_CHECK(options.batch_size > 0, "evaluation batch size must be positive, got ",
           options.batch_size);
  model_.eval();
  if (bf16_) compat::set_cuda_bf16_autocast(true);
}

InferenceScope::~InferenceScope() {
  if (bf16_) compat::set_cuda_bf16_autocast(false);
  model_.train(was_training_);
}

namespace {

// One vector per sample from (B, T, D); mask (B, T) marks real tokens (undefined: all real).
torch::Tensor pool_tokens(model::LayeredModel& model, const torch::Tensor& h,
                          const torch::Tensor& mask, const std::string& pool) {
  if (h.dim() == 2) return h;  // already one vector per sample
  if (pool == "model" && !model.per_token()) return model.pool(h, mask);
  if (pool == "cls") return h.select(1, 0);                                   // (B, D)
  if (pool == "mean" || pool == "model") return model::masked_mean(h, mask);  // decoders: "model"
  if (pool == "last") {                                                       // the last real token
    if (!mask.defined()) return h.select(1, h.size(1) - 1);
    const auto last = (mask.sum(1) - 1).clamp_min(0);  // (B)
    return h.gather(1, last.view({-1, 1, 1}).expand({-1, 1, h.size(2)})).squeeze(1);
  }
  throw Error(str_cat("--pool '", pool, "' is not known here; use model, cls, mean or last"));
}

// Rows per forward pass: per-token models score every position, so their batches hold about
// as many positions as options.batch_size * 4 (the (L, positions, vocabulary) logits dominate).
int64_t rows_per_batch(model::LayeredModel& model, const torch::Tensor& inputs,
                       const EvalOptions& options) {
  if (!model.per_token() || inputs.dim() < 2) return options.batch_size;
  return std::max<int64_t>(1, options.batch_size * 4 / inputs.size(1));
}

}  // namespace

LayerPredictions predict_layers(model::LayeredModel& model, const torch::Tensor& inputs,
                                const torch::Tensor& labels, HeadChoice heads,
                                const EvalOptions& options) {
  LW_CHECK(inputs.size(0) == labels.size(0), "evaluation: ", inputs.size(0), " inputs but ",
           labels.size(0), " labels");
  LW_CHECK(inputs.size(0) > 0, "evaluation: no samples");
  InferenceScope scope(model, options);
  const int64_t n_layers = model.n_layers();
  const int64_t rows = rows_per_batch(model, inputs, options);
  std::vector<torch::Tensor> predictions, confidence, entropy, loss, cos_to_last, scored_labels;
  Progress progress(options.progress.empty());
  for (int64_t start = 0; start < inputs.size(0); start += rows) {
    const int64_t end = std::min(inputs.size(0), start + rows);
    progress.items(options.progress, start, inputs.size(0));
    const auto x = inputs.slice(0, start, end).to(options.device);
    auto y = labels.slice(0, start, end).to(options.device);  // (B) or per token (B, T)
    const auto mask = model.token_mask(x);
    const auto hidden = model.forward_layers(x);
    // Items: one per sample, or every scored position of per-token models.
    const auto scored = model.per_token() ? y.ne(model::kIgnoreLabel) : torch::Tensor();
    if (scored.defined()) y = y.index({scored});  // (N_b)
    std::vector<torch::Tensor> pooled;            // L of (N_b, D)
    for (int64_t l = 1; l <= n_layers; ++l) {
      auto z = model.pool(hidden[l], mask);
      if (scored.defined()) z = z.index({scored});
      pooled.push_back(z.to(torch::kFloat32));
    }
    const auto z = torch::stack(pooled);  // (L, B, D)
    torch::Tensor logits;                 // (L, B, C)
    if (heads == HeadChoice::last) {
      logits = model.head(z);
    } else {
      std::vector<torch::Tensor> per_layer;
      for (int64_t l = 1; l <= n_layers; ++l) per_layer.push_back(model.head_at(pooled[l - 1], l));
      logits = torch::stack(per_layer);
    }
    logits = logits.to(torch::kFloat32);
    const auto log_probs = logits.log_softmax(-1);             // (L, B, C)
    const auto [top_log_prob, top_class] = log_probs.max(-1);  // (L, B)
    predictions.push_back(top_class.cpu());
    confidence.push_back(top_log_prob.exp().cpu());
    const double max_entropy = std::log(double(log_probs.size(-1)));
    entropy.push_back((-(log_probs.exp() * log_probs).sum(-1) / max_entropy).cpu());  // (L, B)
    loss.push_back(-log_probs.gather(-1, y.expand({n_layers, -1}).unsqueeze(-1)).squeeze(-1).cpu());
    const auto last = z[n_layers - 1].expand_as(z);                             // (L, B, D)
    cos_to_last.push_back(torch::cosine_similarity(z, last, -1, 1e-12).cpu());  // (L, B)
    scored_labels.push_back(y.to(torch::kCPU, torch::kInt64));
  }
  progress.items(options.progress, inputs.size(0), inputs.size(0));
  return {torch::cat(predictions, 1), torch::cat(confidence, 1),  torch::cat(entropy, 1),
          torch::cat(loss, 1),        torch::cat(cos_to_last, 1), torch::cat(scored_labels)};
}

torch::Tensor layer_accuracy(const LayerPredictions& p) {
  return p.predictions.eq(p.labels.unsqueeze(0)).to(torch::kFloat64).mean(1);  // (L)
}

torch::Tensor saturation_layers(const torch::Tensor& predictions) {
  const int64_t n_layers = predictions.size(0);
  const auto disagrees = predictions.ne(predictions[n_layers - 1].unsqueeze(0));  // (L, N)
  const auto layer = torch::arange(1, n_layers + 1, torch::kInt64).unsqueeze(1);  // (L, 1)
  // The last layer that disagrees with layer L (0 if none); saturation is the one after it.
  return (disagrees.to(torch::kInt64) * layer).amax(0) + 1;  // (N)
}

int64_t minimal_depth(const torch::Tensor& accuracy, double tolerance) {
  const auto acc = accuracy.to(torch::kFloat64).contiguous();
  const auto* a = acc.data_ptr<double>();
  const int64_t n_layers = acc.numel();
  for (int64_t l = 0; l < n_layers; ++l)
    if (a[l] >= a[n_layers - 1] - tolerance) return l + 1;
  return n_layers;
}

nlohmann::json layerwise_summary(const LayerPredictions& p, double tolerance) {
  const int64_t n_layers = p.predictions.size(0);
  const auto accuracy = layer_accuracy(p);
  const auto saturation = saturation_layers(p.predictions);
  const auto histogram = torch::bincount(saturation, {}, n_layers + 1).slice(0, 1);  // (L)
  std::vector<int64_t> counts(histogram.data_ptr<int64_t>(),
                              histogram.data_ptr<int64_t>() + n_layers);
  const auto last = p.predictions[n_layers - 1].unsqueeze(0);  // (1, N)
  return {
      {"n_samples", p.labels.numel()},
      {"accuracy", vector_to_json(accuracy)},
      {"agreement_with_last", vector_to_json(p.predictions.eq(last).to(torch::kFloat64).mean(1))},
      {"final_accuracy", accuracy[n_layers - 1].item<double>()},
      {"mean_confidence", vector_to_json(p.confidence.mean(1))},
      {"loss", vector_to_json(p.loss.mean(1))},
      {"cos_to_last", vector_to_json(p.cos_to_last.mean(1))},
      {"saturation_layer_histogram", counts},
      {"mean_saturation_layer", saturation.to(torch::kFloat64).mean().item<double>()},
      {"minimal_depth", minimal_depth(accuracy, tolerance)},
      {"minimal_depth_tolerance", tolerance}};
}

Layers extract_layers(model::LayeredModel& model, const torch::Tensor& inputs,
                      const std::string& pool, const EvalOptions& options) {
  LW_CHECK(inputs.size(0) > 0, "extract_layers: no samples");
  InferenceScope scope(model, options);
  std::vector<std::vector<torch::Tensor>> parts(model.n_layers() + 1);
  Progress progress(options.progress.empty());
  for (int64_t start = 0; start < inputs.size(0); start += options.batch_size) {
    const int64_t end = std::min(inputs.size(0), start + options.batch_size);
    progress.items(options.progress, start, inputs.size(0));
    const auto x = inputs.slice(0, start, end).to(options.device);
    const auto mask = model.token_mask(x);
    const auto hidden = model.forward_layers(x);
    for (size_t l = 0; l < hidden.size(); ++l)
      parts[l].push_back(
          pool_tokens(model, hidden[l], mask, pool).to(torch::kCPU, torch::kFloat32));
  }
  progress.items(options.progress, inputs.size(0), inputs.size(0));
  Layers layers;
  for (auto& part : parts) layers.push_back(torch::cat(part));  // (N, D)
  return layers;
}

}  // namespace layerwise::analysis
