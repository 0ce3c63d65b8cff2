#include <iostream>

#include "cli.h"
#include "layerwise/workflow/hf_transfer.h"

namespace layerwise::cli {

namespace {

struct ExportFlags {
  std::string run_dir, out;
};

void add_options(CLI::App& app, ExportFlags& f) {
  auto* cmd = app.add_subcommand(
      "export", "Write a run's model as a Hugging Face checkpoint that transformers loads");
  cmd->footer(
      "ViTs become ViTForImageClassification (DeiTForImageClassification with a distillation\n"
      "token), text encoders of BERT's form (--preset bert-*) BertForSequenceClassification,\n"
      "decoders with --tie-embeddings GPT2LMHeadModel. OUT gets config.json, model.safetensors\n"
      "and layerwise_reference.safetensors (inputs, hidden_states.<i>, logits as layerwise\n"
      "computes them) to check the load:\n\n"
      "  from transformers import AutoModelForImageClassification\n"
      "  from safetensors.torch import load_file\n"
      "  model = AutoModelForImageClassification.from_pretrained(OUT).eval()\n"
      "  ref = load_file(OUT + '/layerwise_reference.safetensors')\n"
      "  print((model(ref['inputs']).logits - ref['logits']).abs().max())\n\n"
      "scripts/hf_roundtrip.py checks every folder that way. Text runs also get their\n"
      "tokenizer as layerwise_tokenizer.json (layerwise's format; its ids are the model's).\n"
      "Multi-head runs, mean pooling and pre-LN text encoders have no transformers layout and\n"
      "are refused.\n\n"
      "Example:\n  layerwise export runs/aligned --out hf/aligned-vit");
  cmd->add_option("RUN", f.run_dir, "run folder")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--out,-o", f.out, "folder to create")->required();
}

int run(const ExportFlags& f, const GlobalFlags&) {
  workflow::export_run(f.run_dir, f.out);
  std::cout << f.out << "\n";
  return 0;
}

}  // namespace

Runner add_export(CLI::App& app) {
  return make_subcommand<ExportFlags>(app, add_options, run);
}

}  // namespace layerwise::cli
