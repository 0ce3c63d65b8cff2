#include <iostream>
#include <memory>

#include "cli.h"
#include "dist_flags.h"
#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/model/config.h"
#include "layerwise/train/trainer.h"
#include "setting_flags.h"

namespace layerwise::cli {

namespace {

// Every flag is optional: what is given overrides the --config file, which overrides the preset
// and the defaults (train::resolve_run_config does the merge).
struct TrainFlags {
  std::string out, resume, config_file, preset, init, layer_weights, device;
  int64_t stop_after = 0;
  DistFlags dist;
  std::unique_ptr<SettingFlags> settings;
  CLI::App* cmd = nullptr;
  bool given(const std::string& flag) const { return cmd->count(flag) > 0; }
};

// The defaults --help shows: the small ViT's, and those of text data for the text settings.
nlohmann::json help_defaults() {
  train::RunConfig defaults;
  defaults.model = model::model_preset("small");
  auto json = train::to_json(defaults);
  auto text = defaults.data;
  text.dataset = data::Dataset::spam_assassin;
  const auto text_json = data::to_json(text);
  for (const auto& [name, value] : text_json.items())
    if (!json["data"].contains(name)) json["data"][name] = value;
  return json;
}

void add_options(CLI::App& app, TrainFlags& f) {
  auto* cmd = app.add_subcommand(
      "train", "Train a ViT, text encoder or text decoder: standard, aligned or multi-head");
  f.cmd = cmd;
  cmd->footer(
      "Objectives (Jiang, Zhou, Zhu, ICLR 2025):\n"
      "  standard   cross-entropy of the last layer's classifier on the last layer\n"
      "  aligned    sum over layers l of w_l CE(head(h_l)): the last layer's classifier, shared,\n"
      "             applied after every layer, so that every layer becomes readable by it\n"
      "  multihead  the same weighted sum with a separate classifier per layer\n"
      "             (the multi-exit baseline)\n"
      "Layer weights: linear w_l = 2l / (L(L+1)) (the paper's), uniform, or a list 0.1,0.2,...\n\n"
      "Models: ViT presets tiny, small, medium, base read images (fashion-mnist, idx);\n"
      "encoder-* presets classify text, decoder-* presets learn next-token prediction (dataset\n"
      "spam-assassin by default, or --dataset jsonl / text with --data-dir FILE). Text runs\n"
      "train their tokenizer on the training split (--tokenizer bpe) and save it as\n"
      "OUT/tokenizer.json.\n\n"
      "Writes OUT/config.json, model.safetensors, optimizer.safetensors, trainer_state.json and\n"
      "metrics.jsonl (one JSON line per step and per validation). Interrupted runs continue with\n"
      "--resume OUT. A --config JSON file may hold {\"model\": {...} or \"preset name\",\n"
      "\"train\": {...}, \"data\": {...}} with the fields of config.json.\n\n"
      "Examples:\n"
      "  layerwise train --objective aligned --epochs 3 --out runs/aligned\n"
      "  layerwise train --preset medium --epochs 30 --device cuda --out runs/medium-aligned\n"
      "  layerwise train --preset encoder-small --objective aligned --epochs 5 --out runs/spam\n"
      "  layerwise train --preset decoder-small --dataset text --data-dir book.txt --out runs/lm\n"
      "  layerwise train --resume runs/aligned\n\n"
      "Fine-tuning: --init RUN_OR_HF_DIR starts from a trained model (a run folder, or a\n"
      "Hugging Face ViT/DeiT/BERT/GPT-2 checkpoint folder); the architecture is the checkpoint's,\n"
      "the classifier is kept when the task has as many classes (--fresh-head: always new).\n"
      "  layerwise train --classes 0-4 --objective standard --out runs/pre\n"
      "  layerwise train --init runs/pre --classes 5-9 --fresh-head --objective aligned --out "
      "runs/ft");
  cmd->add_option("--out,-o", f.out, "run folder to create");
  cmd->add_option("--resume", f.resume, "continue the run in this folder from its checkpoint")
      ->excludes(cmd->get_option("--out"));
  cmd->add_option("--config", f.config_file, "JSON file with model / train / data settings")
      ->check(CLI::ExistingFile);
  cmd->add_option("--init", f.init,
                  "start from this model: a run folder or a Hugging Face checkpoint folder")
      ->check(CLI::ExistingDirectory);
  const std::string presets =
      "ViT tiny, small, medium, base; encoder-{tiny,small,base}; bert-{tiny,small,base} (BERT's "
      "form, exports to transformers); decoder-{tiny,small,base}";
  cmd->add_option("--preset", f.preset, "model size (default small): " + presets);
  cmd->add_option("--layer-weights", f.layer_weights,
                  "linear (the paper's), uniform, sqrt, exponential (--weight-rate), learned "
                  "(uncertainty weighting) or w_1,...,w_L (default linear)");
  cmd->add_option("--device", f.device, "cpu or cuda[:N] (default cpu)");
  cmd->add_option("--stop-after", f.stop_after,
                  "checkpoint and stop after N steps in total (resume later)")
      ->check(at_least_zero());
  add_dist_flags(cmd, f.dist, "each global batch");
  // One line per setting; the settings' descriptions (run_config.h, model/config.h,
  // data/task_data.h) hold their types, ranges and defaults.
  f.settings = std::make_unique<SettingFlags>(cmd, help_defaults());
  auto& s = *f.settings;
  s.describe("--layer-weights", "train.layer_weights");
  s.describe("--layer-weights", "train.layer_weighting");
  s.describe("--device", "train.device");
  s.add_switch("--fresh-head", "train.fresh_head", true,
               "with --init: a new classifier in any case");
  s.add("--layers", "model.n_layers", "override: number of blocks L");
  s.add("--d-model", "model.d_model", "override: width");
  s.add("--heads", "model.n_heads", "override: attention heads");
  s.add("--d-ff", "model.d_ff", "override: MLP width");
  s.add("--patch-size", "model.patch_size", "override: patch size");
  s.add("--pool", "model.pool",
        "what the head reads: cls (the class token) or mean (of the patches / real tokens)");
  s.add_switch("--tie-embeddings", "model.tie_embeddings", true,
               "text decoders: the output projection is the token embedding");
  s.add("--dropout", "model.dropout", "override: residual dropout while training, in [0, 1)");
  s.add("--objective", "train.objective", "standard, aligned or multihead");
  s.add("--epochs", "train.epochs", "passes over the training split");
  s.add("--batch-size", "train.batch_size", "training batch");
  s.add("--lr", "train.lr", "peak learning rate (AdamW)");
  s.add("--min-lr", "train.min_lr", "learning rate at the end of the cosine decay");
  s.add("--warmup-epochs", "train.warmup_epochs", "linear warm-up length");
  s.add("--weight-decay", "train.weight_decay", "AdamW weight decay (matrices only)");
  s.add("--adam-eps", "train.adam_eps", "AdamW epsilon");
  s.add("--clip-norm", "train.clip_norm", "max gradient norm (0: off)");
  s.add("--label-smoothing", "train.label_smoothing", "cross-entropy label smoothing in [0, 1)");
  s.add("--weight-rate", "train.weight_rate",
        "--layer-weights exponential: w_l ∝ exp(rate l / L); > 0 favours deep layers");
  s.add("--last-weight-boost", "train.last_weight_boost",
        "the last layer's weight x this, the others rescaled to the same sum");
  s.add("--weight-lr-scale", "train.weight_lr_scale",
        "--layer-weights learned: the log variances' learning rate as a multiple of --lr "
        "(they must reach log CE_l within the run)");
  s.add("--distill", "train.distill",
        "aligned / multihead: weight of the KL pulling every layer toward the last (0: off)");
  s.add("--distill-temperature", "train.distill_temperature", "softmax temperature of --distill");
  s.add("--augment", "train.augment", "none, flip or shift_flip (random +-2 px shifts too)");
  s.add("--seed", "train.seed", "initialization, batch order, augmentation");
  s.add("--eval-every", "train.eval_every", "validate every N steps (0: each epoch)");
  s.add("--checkpoint-every", "train.checkpoint_every", "checkpoint every N steps (0: each epoch)");
  s.add("--keep-checkpoints", "train.keep_checkpoints", "complete checkpoints kept, newest first");
  s.add("--log-every", "train.log_every", "steps per metrics flush");
  s.add_switch("--no-bf16", "train.bf16", false, "CUDA: train in float32 instead of bf16 autocast");
  s.add_switch("--no-cuda-graphs", "train.cuda_graphs", false,
               "CUDA: run every step eagerly instead of replaying a captured graph");
  s.add("--dataset", "data.dataset",
        "images: fashion-mnist, idx (an MNIST-format folder), folder (PNG / JPEG files in class "
        "folders); text: spam-assassin, jsonl "
        "({\"text\", \"label\"} per line), text (documents split by blank lines)");
  s.add("--data-dir", "data.dir",
        "idx: folder of the IDX files; folder: DIR/train/<class>/*.png|jpg (DIR/val, DIR/test "
        "optional) or DIR/<class>/...; jsonl, text: the file; fashion-mnist, spam-assassin: "
        "default = the installed copy");
  s.add("--classes", "data.classes",
        "images: train on these labels only, e.g. 0-4 or 5,6,7,8,9 (renumbered 0..)");
  add_image_flags(s);
  s.add("--labels", "data.labels",
        "spam-assassin: binary (ham / spam) or groups (easy ham, hard ham, spam)");
  s.add_switch("--keep-headers", "data.strip_headers", false,
               "spam-assassin: keep the mail headers");
  s.add("--tokenizer", "data.tokenizer", "text: bpe (trained on the training split) or byte");
  s.add("--vocab-size", "data.vocab_size", "bpe: vocabulary size incl. 260 bytes+specials");
  s.add("--max-len", "data.max_len", "text: tokens per sequence (default: the preset's)");
  s.add("--test-fraction", "data.test_fraction", "text: share held out for test");
  s.add("--val-fraction", "data.val_fraction", "share of training data for validation");
  s.add("--train-limit", "data.train_limit", "train on the first N samples only (0: all)");
  s.add("--val-limit", "data.val_limit", "validate on the first N samples only (0: all)");
}

// --layer-weights names a scheme or lists the weights (then the scheme is custom).
void add_layer_weights(const std::string& text, nlohmann::json& settings) {
  const bool named = text == "linear" || text == "uniform" || text == "sqrt" ||
                     text == "exponential" || text == "learned";
  train::set_setting(settings, "train.layer_weighting", named ? text : "custom");
  train::set_setting(
      settings, "train.layer_weights",
      named ? nlohmann::json::array() : train::setting_from_text("train.layer_weights", text));
}

train::RunConfig build_config(const TrainFlags& f) {
  train::RunConfigSources sources;
  sources.preset = f.preset;
  sources.init = f.init;
  if (!f.config_file.empty()) {
    sources.file_name = f.config_file;
    try {
      sources.file = nlohmann::json::parse(read_file(f.config_file));
    } catch (const nlohmann::json::exception& e) {
      throw Error(str_cat(f.config_file, ": not valid JSON (", e.what(), ")"));
    }
  }
  sources.settings = f.settings->settings();
  if (f.given("--layer-weights")) add_layer_weights(f.layer_weights, sources.settings);
  if (f.given("--device")) train::set_setting(sources.settings, "train.device", f.device);
  return train::resolve_run_config(sources);
}

int run(TrainFlags& f, const GlobalFlags& global) {
  if (const auto status = launch_workers_if_asked(f.dist)) return *status;
  train::TrainOptions options;
  options.stop_after_steps = f.stop_after;
  options.quiet = global.quiet;
  std::unique_ptr<distributed::Communicator> comm;
  auto join = [&](const std::string& device) {
    comm = join_group_if_launched(f.dist, device);
    options.comm = comm.get();
  };
  if (!f.resume.empty()) {
    LW_CHECK(!f.given("--config") && !f.given("--preset") && !f.given("--init") &&
                 f.settings->settings().empty() && !f.given("--layer-weights"),
             "--resume continues a run as configured; only --device and --stop-after apply");
    const auto device =
        worker_device(f.device.empty() ? train::read_run_config(f.resume).train.device : f.device);
    join(device);
    train::resume_run(f.resume, device, options);
    if (writes_results()) std::cout << f.resume << "\n";
    return 0;
  }
  LW_CHECK(!f.out.empty(), "train needs --out RUN (a new folder) or --resume RUN");
  try {  // training checks settings against the data too: name their flags
    auto config = build_config(f);
    config.train.device = worker_device(config.train.device);
    join(config.train.device);
    train::train_new_run(std::move(config), f.out, options);
  } catch (const EnvironmentError&) {
    throw;  // the machine, not a setting: keeps its exit status (3)
  } catch (const Error& e) {
    f.settings->rethrow_with_flags(e);
  }
  if (writes_results()) std::cout << f.out << "\n";
  return 0;
}

}  // namespace

Runner add_train(CLI::App& app) {
  return make_subcommand<TrainFlags>(app, add_options, run);
}

}  // namespace layerwise::cli
