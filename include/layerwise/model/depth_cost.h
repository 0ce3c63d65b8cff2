// What a model costs at each depth: the parameters and forward FLOPs of the model cut after its
// first K blocks (model/truncate.h), so that a user picks the depth for a memory or latency
// budget (`layerwise export --depth K`, the report's layer-wise table), and the FLOPs the
// training benchmark divides by for its MFU. Computed from the configuration alone; no model is
// built.
//
// Parameters: every tensor of the depth-K model: the embeddings (patch projection, class and
// distillation tokens and positions; or token, position and token-type embeddings and BERT's
// embedding LayerNorm), K blocks, the final norm (or BERT's pooler), the classifier (none when the
// output projection is the token embedding) and, for multi-head models, the K - 1 exit heads that
// the cut model keeps. Equal to count_parameters(*make_model(truncated_config(config, K))).
//
// FLOPs: one forward pass over one sample of T tokens (ViT: class and distillation tokens and the
// patches; text: the padded sequence length), matrix products only, a multiply-add counted as 2:
//   embed     the patch projection 2 N_p (C P^2) D (text embeddings are lookups: 0)
//   qkv       per block 2 T D (3D)
//   scores    per block Q K^T over all heads, 2 T^2 D (the full T x T, also for causal models)
//   values    per block softmax(.) V, 2 T^2 D
//   out_proj  per block 2 T D^2
//   mlp       per block 2 T D F + 2 T F D
//   heads     each head read: 2 D C, plus BERT's pooler 2 D^2; decoders read it at all T positions
// Not counted: LayerNorms, softmax, GELU, residual adds, biases, the exit heads a plain forward
// pass does not read.
#pragma once

#include <cstdint>
#include <vector>

#include "layerwise/model/config.h"

namespace layerwise::model {

/// Forward-pass FLOPs per sample, by part (see above).
struct FlopCount {
  double embed = 0, qkv = 0, scores = 0, values = 0, out_proj = 0, mlp = 0, heads = 0;
  double total() const { return embed + qkv + scores + values + out_proj + mlp + heads; }
};

/// Tokens of one sample: ViT prefix tokens + patches; text models max_len.
int64_t sample_tokens(const ModelConfig& config);

/// FLOPs of the model cut after `depth` blocks (1..n_layers) over one sample of `tokens` tokens
/// (0: sample_tokens(config)), reading a head `head_calls` times (inference 1; the aligned and
/// multi-head objectives read one after every layer: n_layers). Throws layerwise::Error for a
/// depth out of range.
FlopCount forward_flops(const ModelConfig& config, int64_t depth, int64_t tokens = 0,
                        int64_t head_calls = 1);

/// Parameters (elements) of the model cut after `depth` blocks (see above).
int64_t depth_parameters(const ModelConfig& config, int64_t depth);

struct DepthCost {
  int64_t depth = 0;       // blocks kept
  int64_t parameters = 0;  // depth_parameters
  double flops = 0;        // forward_flops(...).total(): one sample, one head read
};

/// The cost of every depth 1..n_layers, samples of `tokens` tokens (0: sample_tokens(config)).
std::vector<DepthCost> depth_costs(const ModelConfig& config, int64_t tokens = 0);

}  // namespace layerwise::model
