#include "layerwise/inference/scope.h"

#include "layerwise/core/error.h"

namespace layerwise::inference {

InferenceScope::InferenceScope(model::LayeredModel& model, const InferenceOptions& options)
    : model_(model), was_training_(model.is_training()), autocast_(options.bf16) {
  LW_CHECK(options.batch_size > 0, "inference batch size must be positive, got ",
           options.batch_size);
  model_.eval();
}

InferenceScope::~InferenceScope() {
  model_.train(was_training_);
}

}  // namespace layerwise::inference
