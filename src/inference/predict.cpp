#include "layerwise/inference/predict.h"

#include <cmath>

#include "layerwise/core/error.h"
#include "layerwise/core/progress.h"
#include "layerwise/data/batch_stream.h"

namespace layerwise::inference {

namespace {

// Rows per forward pass: per-token models score every position, so their batches hold about
// as many positions as options.batch_size * 4 (the (L, positions, vocabulary) logits dominate).
int64_t rows_per_batch(model::LayeredModel& model, const data::Inputs& inputs,
                       const InferenceOptions& options) {
  const auto shape = inputs.sample_shape();  // (T) for token ids
  if (!model.per_token() || shape.empty()) return options.batch_size;
  return std::max<int64_t>(1, options.batch_size * 4 / shape[0]);
}

}  // namespace

analysis::LayerPredictions predict_layers(model::LayeredModel& model, const data::Inputs& inputs,
                                          const torch::Tensor& labels, HeadChoice heads,
                                          const InferenceOptions& options) {
  const int64_t n = inputs.size();
  LW_CHECK(n == labels.size(0), "evaluation: ", n, " inputs but ", labels.size(0), " labels");
  LW_CHECK(n > 0, "evaluation: no samples");
  InferenceScope scope(model, options);
  const int64_t n_layers = model.n_layers();
  const int64_t rows = rows_per_batch(model, inputs, options);
  std::vector<torch::Tensor> predictions, confidence, entropy, loss, cos_to_last, scored_labels;
  Progress progress(options.progress.empty());
  data::BatchStream batches(inputs, rows, options.device);
  for (data::BatchStream::Batch batch; batches.next(batch);) {
    progress.items(options.progress, batch.begin, n);
    const auto& x = batch.inputs;
    auto y = labels.slice(0, batch.begin, batch.end).to(options.device);  // (B) or per token (B, T)
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
  progress.items(options.progress, n, n);
  return {torch::cat(predictions, 1), torch::cat(confidence, 1),  torch::cat(entropy, 1),
          torch::cat(loss, 1),        torch::cat(cos_to_last, 1), torch::cat(scored_labels)};
}

}  // namespace layerwise::inference
