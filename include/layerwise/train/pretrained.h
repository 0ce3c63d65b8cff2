// Starting a run from a trained model (train --init): a layerwise run folder or a Hugging Face
// checkpoint folder (config.json + model.safetensors, see model/hf_checkpoint.h).
#pragma once

#include <string>
#include <vector>

#include "layerwise/data/task_data.h"
#include "layerwise/model/layered_model.h"

namespace layerwise::train {

/// The architecture of the model at `path` (weights not read).
model::ModelConfig pretrained_model_config(const std::string& path);

/// Text models: the tokenizer kind the model's ids come from (a run's data tokenizer; wordpiece for
/// BERT, gpt2 for GPT-2 checkpoints). Throws for vision models.
data::TokenizerKind pretrained_tokenizer(const std::string& path);

/// Copies the tokenizer files of `path` (vocab.txt, tokenizer_config.json, vocab.json, merges.txt,
/// and a run's tokenizer.json: those present) into run_dir, so that a fine-tune reads text with the
/// ids the model learned.
void copy_tokenizer_files(const std::string& path, const std::string& run_dir);

/// Images: sets `data`'s image pipeline to the one the model was trained with (a run's resize,
/// crop, channels and normalization, or what a Hugging Face folder's preprocessor_config.json
/// does); false when unknown (then the pixels are normalized as measured on the data).
bool pretrained_image_pipeline(const std::string& path, data::DataConfig& data);

struct Pretrained {
  model::ModelPtr model;           // on the CPU
  std::vector<std::string> notes;  // from the import: skipped tensors, fresh heads
};

/// The model at `path`; throws layerwise::Error naming what is missing.
Pretrained load_pretrained(const std::string& path);

/// Copies `source`'s weights into `target` (same architecture; heads and classes may differ):
/// every tensor of the same name and shape, except the classifier when fresh_head. Tensors left
/// as initialized (a classifier of another class count, per-layer exit heads) are listed in the
/// returned note (empty when none). Throws if a tensor other than those differs in shape.
std::string copy_pretrained(model::LayeredModel& source, model::LayeredModel& target,
                            bool fresh_head);

}  // namespace layerwise::train
