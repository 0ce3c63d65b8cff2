#include <iostream>
#include <memory>

#include "cli.h"
#include "layerwise/core/error.h"
#include "layerwise/data/task_data.h"
#include "layerwise/workflow/hf_transfer.h"
#include "setting_flags.h"

namespace layerwise::cli {

namespace {

struct ImportFlags {
  std::string hf_dir, out;
  std::unique_ptr<SettingFlags> settings;
  bool quiet = false;
};

void add_options(CLI::App& app, ImportFlags& f) {
  auto* cmd = app.add_subcommand(
      "import", "Make a run folder from a Hugging Face checkpoint (ViT, DeiT, BERT, GPT-2)");
  cmd->footer(
      "Reads HF_DIR/config.json and model.safetensors (or the shards of\n"
      "model.safetensors.index.json) of ViTModel / ViTForImageClassification, DeiTModel /\n"
      "DeiTForImageClassification, BertModel / BertForSequenceClassification (also the encoder\n"
      "of BertForMaskedLM / BertForPreTraining) or GPT2Model / GPT2LMHeadModel, and writes a\n"
      "run folder that computes the same hidden states and logits. Then eval, similarity, exit,\n"
      "report and train --init take it like a run trained here.\n\n"
      "Data: images are read from --dataset (fashion-mnist by default, or a folder of PNG / JPEG\n"
      "files) and made model-ready per batch as HF_DIR/preprocessor_config.json says (resize,\n"
      "crop, normalization; grey images repeated to RGB), or resized to the model's size without\n"
      "one; --resize / --crop override the size. Text runs\n"
      "copy the checkpoint's tokenizer (vocab.txt for BERT, vocab.json + merges.txt for GPT-2)\n"
      "and read --dataset (spam-assassin by default) with it: BERT classifies, GPT-2 models the\n"
      "language. A checkpoint without a classifier gets a fresh one (fine-tune it with\n"
      "train --init).\n\n"
      "Examples:\n"
      "  layerwise import ./vit-checkpoint --out runs/imported-vit\n"
      "  layerwise eval runs/imported-vit\n"
      "  layerwise import ./bert-checkpoint --out runs/bert --labels groups");
  cmd->add_option("HF_DIR", f.hf_dir, "Hugging Face checkpoint folder")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out,-o", f.out, "run folder to create")->required();
  data::DataConfig text;  // the defaults --help shows, text settings included
  text.dataset = data::Dataset::spam_assassin;
  f.settings = std::make_unique<SettingFlags>(cmd, nlohmann::json{{"data", data::to_json(text)}});
  auto& s = *f.settings;
  s.add("--dataset", "data.dataset",
        "fashion-mnist, idx, folder; spam-assassin, jsonl, text (default: by model)")
      ->default_str("");
  s.add("--data-dir", "data.dir", "idx, folder: the folder; jsonl, text: the file");
  s.add("--classes", "data.classes", "images: these labels only, e.g. 0-4 (renumbered 0..)");
  add_image_flags(s);
  s.add("--labels", "data.labels", "spam-assassin: binary or groups");
  s.add("--max-len", "data.max_len", "text: tokens per sequence (at most the model's)");
}

int run(ImportFlags& f, const GlobalFlags& global) {
  workflow::ImportOptions options;
  options.quiet = global.quiet;
  options.data = f.settings->settings().value("data", nlohmann::json::object());
  try {
    workflow::import_run(f.hf_dir, f.out, options);
  } catch (const Error& e) {
    f.settings->rethrow_with_flags(e);
  }
  std::cout << f.out << "\n";
  return 0;
}

}  // namespace

Runner add_import(CLI::App& app) {
  return make_subcommand<ImportFlags>(app, add_options, run);
}

}  // namespace layerwise::cli
