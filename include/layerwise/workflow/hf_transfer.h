// `layerwise import` and `layerwise export`: Hugging Face checkpoint folders to layerwise run
// folders and back (model/hf_checkpoint.h does the tensors).
//
// An imported run holds config.json (the model, and the data it reads), model.safetensors,
// trainer_state.json (0 steps: nothing trained here), import.json (source, architecture, notes)
// and, for text models, the checkpoint's tokenizer files; eval, similarity, exit, report and
// train --init take it like any run.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace layerwise::workflow {

struct ImportOptions {
  /// Data settings over the model's default dataset (images: fashion-mnist; text:
  /// spam-assassin), as in config.json's "data": {"dataset": "idx", "dir": ..., "classes": [...]}.
  nlohmann::json data = nlohmann::json::object();
  bool quiet = false;
};

/// Imports HF_DIR into RUN_DIR (a new folder, written whole or not at all). Returns the notes of
/// the import (skipped tensors, fresh heads).
std::vector<std::string> import_run(const std::string& hf_dir, const std::string& run_dir,
                                    ImportOptions options);

/// Exports the run's model to OUT_DIR (config.json, model.safetensors) with
/// layerwise_reference.safetensors beside them: a few inputs and what layerwise computes for them
/// ("inputs", "hidden_states.<i>" as transformers numbers them, "logits"), to check a load in
/// Python. Text runs also get their tokenizer as layerwise_tokenizer.json.
void export_run(const std::string& run_dir, const std::string& out_dir);

}  // namespace layerwise::workflow
