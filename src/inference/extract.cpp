#include "layerwise/inference/extract.h"

#include "layerwise/core/error.h"
#include "layerwise/core/progress.h"
#include "layerwise/data/batch_stream.h"

namespace layerwise::inference {

namespace {

// One vector per sample from (B, T, D) (or (B, D), as it is); mask (B, T) marks real tokens.
torch::Tensor pool_hidden(model::LayeredModel& model, const torch::Tensor& h,
                          const torch::Tensor& mask, const LayerPool& pool) {
  if (h.dim() == 2) return h;
  if (!pool && !model.per_token()) return model.pool(h, mask);
  return analysis::pool_tokens(h, pool.value_or(analysis::Pool::mean), mask);  // decoders: mean
}

}  // namespace

LayerPool parse_layer_pool(const std::string& name, const std::string& setting) {
  if (name == "model") return std::nullopt;
  const auto pool = parse_enum<analysis::Pool>(name, setting);
  LW_CHECK(
      pool == analysis::Pool::cls || pool == analysis::Pool::mean || pool == analysis::Pool::last,
      setting, " '", name, "' is not known here; use model, cls, mean or last");
  return pool;
}

std::string layer_pool_name(const LayerPool& pool) {
  return pool ? enum_name(*pool) : "model";
}

analysis::Layers extract_layers(model::LayeredModel& model, const data::Inputs& inputs,
                                const LayerPool& pool, const InferenceOptions& options) {
  const int64_t n = inputs.size();
  LW_CHECK(n > 0, "extract_layers: no samples");
  InferenceScope scope(model, options);
  std::vector<std::vector<torch::Tensor>> parts(model.n_layers() + 1);
  Progress progress(options.progress.empty());
  data::BatchStream batches(inputs, options.batch_size, options.device);
  for (data::BatchStream::Batch batch; batches.next(batch);) {
    progress.items(options.progress, batch.begin, n);
    const auto& x = batch.inputs;
    const auto mask = model.token_mask(x);
    const auto hidden = model.forward_layers(x);
    for (size_t l = 0; l < hidden.size(); ++l)
      parts[l].push_back(
          pool_hidden(model, hidden[l], mask, pool).to(torch::kCPU, torch::kFloat32));
  }
  progress.items(options.progress, n, n);
  analysis::Layers layers;
  for (auto& part : parts) layers.push_back(torch::cat(part));  // (N, D)
  return layers;
}

}  // namespace layerwise::inference
