#include <iostream>

#include "cli.h"
#include "layerwise/report/page_parts.h"
#include "layerwise/workflow/hf_transfer.h"

namespace layerwise::cli {

namespace {

struct ExportFlags {
  std::string run_dir, out;
  int64_t depth = 0;
  CLI::Option* depth_option = nullptr;  // given or not: --depth 0 is refused, not "all"
};

void add_options(CLI::App& app, ExportFlags& f) {
  auto* cmd = app.add_subcommand(
      "export", "Write a run's model, or its first K layers, as a checkpoint to deploy");
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
      "Multi-head runs, mean pooling and pre-LN text encoders have no transformers layout: OUT\n"
      "is then a layerwise run folder (config.json, model.safetensors, trainer_state.json) that\n"
      "eval, similarity, exit, report and train --init read.\n\n"
      "Elastic depth: --depth K keeps the embeddings, blocks 1..K and the head that reads layer\n"
      "K, a complete smaller model (num_hidden_layers / n_layer = K) whose logits are what\n"
      "`layerwise eval` reports for layer K. The head is the last layer's (final norm, or BERT's\n"
      "pooler, and classifier), the one an aligned run shares across depths; for a multi-head\n"
      "run it is layer K's own head (the exit heads of layers 1..K-1 stay). The report's\n"
      "layer-wise table gives each depth's accuracy, parameters and FLOPs, to pick K for a\n"
      "memory or latency budget.\n"
      "OUT/layerwise_export.json records the source run, the depth, parameters and FLOPs.\n\n"
      "Examples:\n"
      "  layerwise export runs/aligned --out hf/aligned-vit\n"
      "  layerwise export runs/aligned --depth 6 --out vit-6");
  cmd->add_option("RUN", f.run_dir, "run folder")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--out,-o", f.out, "folder to create")->required();
  f.depth_option =
      cmd->add_option("--depth", f.depth,
                      "keep the first K blocks, 1..L (default: all L), with the head of layer K");
}

int run(ExportFlags& f, const GlobalFlags& global) {
  workflow::ExportOptions options;
  if (f.depth_option->count() > 0) options.depth = f.depth;
  options.quiet = global.quiet;
  const auto result = workflow::export_run(f.run_dir, f.out, options);
  if (!global.quiet)
    std::cerr << (result.hugging_face ? result.architecture : std::string("layerwise run"))
              << ", layers 1.." << result.depth << " of " << result.source_layers << ", "
              << report::format_si(double(result.parameters)) << " parameters, "
              << report::format_si(result.flops) << " FLOPs / sample\n";
  std::cout << f.out << "\n";
  return 0;
}

}  // namespace

Runner add_export(CLI::App& app) {
  return make_subcommand<ExportFlags>(app, add_options, run);
}

}  // namespace layerwise::cli
