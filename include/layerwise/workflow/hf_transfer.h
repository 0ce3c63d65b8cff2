// `layerwise import` and `layerwise export`: Hugging Face checkpoint folders to layerwise run
// folders and back (model/hf_checkpoint.h does the tensors), at full depth or cut after K blocks
// (model/truncate.h).
//
// An imported run holds config.json (the model, and the data it reads), model.safetensors,
// trainer_state.json (0 steps: nothing trained here), import.json (source, architecture, notes)
// and, for text models, the checkpoint's tokenizer files; eval, similarity, exit, report and
// train --init take it like any run.
#pragma once

#include <cstdint>
#include <optional>
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

struct ExportOptions {
  /// Elastic depth: keep blocks 1..depth (1..L) with the head that reads layer `depth` (the
  /// shared last head; a multi-head run's layer `depth` own head), a complete smaller model whose
  /// output is what `layerwise eval` reports for that layer. Unset: all L layers.
  std::optional<int64_t> depth;
  bool quiet = false;
};

struct ExportResult {
  bool hugging_face = false;  // a transformers checkpoint folder; false: a layerwise run folder
  std::string architecture;   // "ViTForImageClassification", ... ("" for a run folder)
  std::string why_not_hf;     // run folders: why transformers has no layout for the model
  int64_t depth = 0, source_layers = 0;
  int64_t parameters = 0;  // of the exported model
  double flops = 0;        // its forward FLOPs per sample (model/depth_cost.h)
};

/// Exports the run's model, cut after options.depth blocks, to OUT_DIR (written whole or not at
/// all; nothing is written for a depth out of range). Models with a transformers layout (ViT /
/// DeiT, BERT-form encoders, tied GPT-2-form decoders) become a Hugging Face folder: config.json,
/// model.safetensors and layerwise_reference.safetensors, a few inputs and what layerwise
/// computes for them ("inputs", "hidden_states.<i>" as transformers numbers them, "logits"), to
/// check a load in Python; text runs also get their tokenizer as layerwise_tokenizer.json. Other
/// models (multi-head, pre-LN encoders, mean pooling, ...) become a layerwise run folder that
/// eval, similarity, exit, report and train --init read (config.json, model.safetensors,
/// trainer_state.json, the tokenizer files). Both hold layerwise_export.json: the source run, its
/// layers, the depth, the format, the parameters and FLOPs.
ExportResult export_run(const std::string& run_dir, const std::string& out_dir,
                        const ExportOptions& options = {});

}  // namespace layerwise::workflow
