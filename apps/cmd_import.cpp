#include <iostream>

#include "cli.h"
#include "layerwise/workflow/hf_transfer.h"

namespace layerwise::cli {

namespace {

struct ImportFlags {
  std::string hf_dir, out, classes;
  workflow::ImportOptions options;
  CLI::App* cmd = nullptr;
};

void add_options(CLI::App& app, ImportFlags& f) {
  auto* cmd = app.add_subcommand(
      "import", "Make a run folder from a Hugging Face checkpoint (ViT, DeiT, BERT, GPT-2)");
  f.cmd = cmd;
  cmd->footer(
      "Reads HF_DIR/config.json and model.safetensors (or the shards of\n"
      "model.safetensors.index.json) of ViTModel / ViTForImageClassification, DeiTModel /\n"
      "DeiTForImageClassification, BertModel / BertForSequenceClassification (also the encoder\n"
      "of BertForMaskedLM / BertForPreTraining) or GPT2Model / GPT2LMHeadModel, and writes a\n"
      "run folder that computes the same hidden states and logits. Then eval, similarity, exit,\n"
      "report and train --init take it like a run trained here.\n\n"
      "Data: images are read from --dataset (fashion-mnist by default; the model must take its\n"
      "image size and channels), normalized as HF_DIR/preprocessor_config.json says. Text runs\n"
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
  auto& d = f.options.data;
  cmd->add_option("--dataset", d.dataset,
                  "fashion-mnist, idx; spam-assassin, jsonl, text (default: by model)");
  cmd->add_option("--data-dir", d.dir, "idx: the folder; jsonl, text: the file");
  cmd->add_option("--classes", f.classes, "images: these labels only, e.g. 0-4 (renumbered 0..)");
  cmd->add_option("--labels", d.labels, "spam-assassin: binary or groups")->capture_default_str();
  cmd->add_option("--max-len", d.max_len, "text: tokens per sequence (at most the model's)")
      ->capture_default_str()
      ->check(CLI::Range(2, 1 << 20));
}

int run(ImportFlags& f, const GlobalFlags& global) {
  f.options.quiet = global.quiet;
  f.options.data_given = f.cmd->count("--dataset") > 0;
  if (!f.classes.empty()) f.options.data.classes = data::parse_class_list(f.classes);
  workflow::import_run(f.hf_dir, f.out, f.options);
  std::cout << f.out << "\n";
  return 0;
}

}  // namespace

Runner add_import(CLI::App& app) {
  return make_subcommand<ImportFlags>(app, add_options, run);
}

}  // namespace layerwise::cli
