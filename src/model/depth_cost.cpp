#include "layerwise/model/depth_cost.h"

#include "layerwise/core/error.h"
#include "layerwise/model/truncate.h"

namespace layerwise::model {

namespace {

// Sums and products of parameter counts, refused past int64 (configurations read from files may
// hold any size).
int64_t add(int64_t a, int64_t b) {
  int64_t out = 0;
  LW_CHECK(!__builtin_add_overflow(a, b, &out), "model: more than 2^63 parameters");
  return out;
}

int64_t mul(int64_t a, int64_t b) {
  int64_t out = 0;
  LW_CHECK(!__builtin_mul_overflow(a, b, &out), "model: more than 2^63 parameters");
  return out;
}

int64_t linear_parameters(int64_t in, int64_t out) {
  return add(mul(in, out), out);  // weight (out, in) and bias
}

int64_t norm_parameters(int64_t d) {
  return mul(2, d);  // weight and bias
}

int64_t embedding_parameters(const ModelConfig& c) {
  const int64_t d = c.block.d_model;
  if (!c.is_text()) {
    const int64_t grid = c.image_size / c.patch_size;
    const int64_t tokens = add(c.n_prefix_tokens(), mul(grid, grid));
    return add(add(linear_parameters(mul(mul(c.in_channels, c.patch_size), c.patch_size), d),
                   mul(c.n_prefix_tokens(), d)),  // patch projection, class (+ distillation)
               mul(tokens, d));                   // positions
  }
  const int64_t embeddings = add(add(c.vocab_size, c.max_len), c.type_vocab_size);
  return add(mul(embeddings, d), c.embed_norm ? norm_parameters(d) : 0);
}

int64_t block_parameters(const BlockConfig& b) {
  const int64_t d = b.d_model;
  return add(add(mul(2, norm_parameters(d)),
                 add(linear_parameters(d, mul(3, d)), linear_parameters(d, d))),
             add(linear_parameters(d, b.d_ff), linear_parameters(b.d_ff, d)));
}

// The final head (norm or pooler, classifier) and the exit heads of a model of c.n_layers layers.
int64_t head_parameters(const ModelConfig& c) {
  const int64_t d = c.block.d_model;
  const bool tied = c.arch == Arch::text_decoder && c.tie_embeddings;
  int64_t n = c.head_input == HeadInput::pooler ? linear_parameters(d, d) : norm_parameters(d);
  if (!tied) n = add(n, linear_parameters(d, c.n_classes));
  if (c.heads == HeadMode::per_layer)
    n = add(n, mul(c.n_layers - 1, add(norm_parameters(d), linear_parameters(d, c.n_classes))));
  return n;
}

}  // namespace

int64_t sample_tokens(const ModelConfig& config) {
  if (config.is_text()) return config.max_len;
  const int64_t grid = config.image_size / config.patch_size;
  return add(config.n_prefix_tokens(), mul(grid, grid));
}

FlopCount forward_flops(const ModelConfig& c, int64_t depth, int64_t tokens, int64_t head_calls) {
  LW_CHECK(depth >= 1 && depth <= c.n_layers, "depth ", depth, " is outside 1..", c.n_layers,
           " (the model's layers)");
  LW_CHECK(tokens >= 0 && head_calls >= 0, "forward_flops: tokens ", tokens, " and head calls ",
           head_calls, " must be >= 0");
  const auto cut = truncated_config(c, depth);  // the head a multi-head model keeps
  const double d = double(c.block.d_model), f = double(c.block.d_ff), k = double(depth);
  const double t = double(tokens > 0 ? tokens : sample_tokens(c));
  FlopCount n;
  if (!c.is_text()) {
    const double grid = double(c.image_size / c.patch_size), p = double(c.patch_size);
    n.embed = 2 * grid * grid * double(c.in_channels) * p * p * d;  // patches x (C P^2) x D
  }
  n.qkv = k * 2 * t * d * 3 * d;
  n.scores = k * 2 * t * t * d;  // q k^T over all heads
  n.values = k * 2 * t * t * d;  // softmax(.) v
  n.out_proj = k * 2 * t * d * d;
  n.mlp = k * 2 * 2 * t * d * f;
  const double per_read = 2 * d * double(c.n_classes) +
                          (cut.head_input == HeadInput::pooler ? 2 * d * d : 0);  // one position
  const double positions = c.arch == Arch::text_decoder ? t : 1;
  n.heads = double(head_calls) * positions * per_read;
  return n;
}

int64_t depth_parameters(const ModelConfig& config, int64_t depth) {
  const auto cut = truncated_config(config, depth);
  return add(add(embedding_parameters(cut), mul(depth, block_parameters(cut.block))),
             head_parameters(cut));
}

std::vector<DepthCost> depth_costs(const ModelConfig& config, int64_t tokens) {
  std::vector<DepthCost> costs;
  for (int64_t k = 1; k <= config.n_layers; ++k)
    costs.push_back({k, depth_parameters(config, k), forward_flops(config, k, tokens).total()});
  return costs;
}

}  // namespace layerwise::model
