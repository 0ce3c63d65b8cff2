// Hugging Face checkpoints in and out: a folder with config.json and model.safetensors (or the
// shards a model.safetensors.index.json lists) of ViT/DeiT, BERT or GPT-2 becomes a layerwise model
// that computes the same hidden states and logits, and a layerwise model becomes such a folder
// that transformers loads with from_pretrained.
//
// The two layouts map by a rename table (hf_rename_table): BERT/ViT's separate query, key and
// value matrices concatenate into our qkv, GPT-2's Conv1D weights (in, out) are transposed, and
// position embeddings gain a leading batch dimension. Tensors of heads we do not use (BERT's
// pre-training heads, ViT's unused pooler, GPT-2's causal-mask buffers) are skipped and reported.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "layerwise/model/hf_config.h"
#include "layerwise/model/layered_model.h"

namespace layerwise::model {

/// One of our tensors and the Hugging Face tensors it is made of.
struct HfRename {
  enum class Layout {
    same,        // the same tensor
    transposed,  // GPT-2 Conv1D: theirs (in, out), ours (out, in)
    batched,     // position embeddings: theirs (P, D), ours (1, P, D)
    stacked,     // ours = cat(theirs..., dim 0): query, key, value -> qkv
  };
  std::string ours;
  std::vector<std::string> theirs;
  Layout layout = Layout::same;
};

/// The full table for a model of `family` built from `config`; `prefix` is the base model's name
/// in the checkpoint ("vit.", "deit.", "bert.", "transformer." or "" for a bare model).
/// Heads included: classifier.* (absent for tied GPT-2) and BERT's pooler.*.
std::vector<HfRename> hf_rename_table(HfFamily family, const ModelConfig& config,
                                      const std::string& prefix);

/// All tensors of a checkpoint folder: model.safetensors, or every shard named by
/// model.safetensors.index.json (each read once). Converted to float32 where floating.
std::vector<std::pair<std::string, torch::Tensor>> read_hf_tensors(const std::string& dir);

struct ImportedModel {
  ModelPtr model;                  // on the CPU, eval mode
  HfConfig hf;                     // what config.json said
  std::vector<std::string> notes;  // what was skipped or freshly initialized, one line each
};

/// Imports DIR. n_classes > 0 replaces the classifier by a freshly initialized one of that many
/// classes (fine-tuning on another task); so does a checkpoint without a classifier. Throws
/// layerwise::Error naming the missing tensor, the unexpected one, or the shape that differs.
ImportedModel import_hf(const std::string& dir, int64_t n_classes = 0);

struct HfExportOptions {
  std::vector<std::string> class_names;  // id2label (default LABEL_<i>)
  int64_t bos_id = 2, eos_id = 3;        // GPT-2's bos/eos_token_id: the run's tokenizer's
  /// Called with the staging folder before it is moved into place: more files of the export.
  std::function<void(const std::string& folder)> add_files;
};

/// Writes DIR/config.json and DIR/model.safetensors for a model that hf_family_for_export
/// accepts. DIR appears whole or not at all (an existing non-empty DIR is refused).
void export_hf(LayeredModel& model, const std::string& dir, const HfExportOptions& options = {});

}  // namespace layerwise::model
