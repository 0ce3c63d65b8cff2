// Running a model for inference: the options every consumer (evaluation, extraction, early exit,
// validation while training) passes, which classifier reads a layer, and the scope that puts a
// model in inference mode.
#pragma once

#include <string>

#include <torch/torch.h>

#include "layerwise/core/compat.h"
#include "layerwise/core/enum_names.h"
#include "layerwise/model/layered_model.h"

namespace layerwise::inference {

/// Which classifier reads layer l: the last layer's (the shared head) or the layer's own
/// (multi-head models).
enum class HeadChoice { last, own };

struct InferenceOptions {
  int64_t batch_size = 512;
  torch::Device device = torch::kCPU;
  bool bf16 = false;        // CUDA bf16 autocast for the forward passes
  bool cuda_graphs = true;  // CUDA: replay fixed-shape calls as captured graphs where supported
  std::string progress;     // non-empty: progress on stderr under this label (rate, time left)
};

/// Eval mode, no gradients and (with options.bf16) CUDA bf16 autocast for the lifetime of the
/// object, also when an exception leaves the scope; restores the model's training flag afterwards.
class InferenceScope {
 public:
  InferenceScope(model::LayeredModel& model, const InferenceOptions& options);
  ~InferenceScope();
  InferenceScope(const InferenceScope&) = delete;
  InferenceScope& operator=(const InferenceScope&) = delete;

 private:
  model::LayeredModel& model_;
  bool was_training_;
  torch::NoGradGuard no_grad_;
  compat::Bf16AutocastScope autocast_;
};

}  // namespace layerwise::inference

namespace layerwise {
template <>
struct EnumNames<inference::HeadChoice> {
  static constexpr std::pair<inference::HeadChoice, const char*> values[] = {
      {inference::HeadChoice::last, "last"}, {inference::HeadChoice::own, "own"}};
};
}  // namespace layerwise
