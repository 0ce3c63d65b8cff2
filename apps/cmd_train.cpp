#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli.h"
#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/model/config.h"
#include "layerwise/train/pretrained.h"
#include "layerwise/train/trainer.h"

namespace layerwise::cli {

namespace {

// Every flag is optional: what is given overrides the --config file, which overrides the preset
// and the defaults.
struct TrainFlags {
  std::string out, resume, config_file, preset = "small", objective = "aligned", init, classes;
  bool fresh_head = false;
  std::string layer_weights = "linear";
  int64_t layers = 0, d_model = 0, heads = 0, d_ff = 0, patch_size = 0;
  double dropout = 0;
  std::string pool;
  bool tie_embeddings = false, keep_headers = false;
  train::TrainConfig train;
  data::DataConfig data;
  std::string device = "cpu";
  bool no_bf16 = false;
  int64_t stop_after = 0;
  CLI::App* cmd = nullptr;
  bool given(const std::string& flag) const { return cmd->count(flag) > 0; }
};

void add_options(CLI::App& app, TrainFlags& f) {
  auto* cmd = app.add_subcommand(
      "train", "Train a ViT, text encoder or text decoder: standard, aligned or multi-head");
  f.cmd = cmd;
  cmd->footer(
      "Objectives (Jiang, Zhou, Zhu, ICLR 2025):\n"
      "  standard   cross-entropy of the last layer's classifier on the last layer\n"
      "  aligned    sum over layers l of w_l CE(head(h_l)): the last layer's classifier, shared,\n"
      "             applied after every layer, so that every layer becomes readable by it\n"
      "  multihead  the same weighted sum with a separate classifier per layer (multi-exit "
      "baseline)\n"
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
  cmd->add_flag("--fresh-head", f.fresh_head, "with --init: a new classifier in any case");
  const std::string presets =
      "ViT tiny, small, medium, base; encoder-{tiny,small,base}; bert-{tiny,small,base} (BERT's "
      "form, exports to transformers); decoder-{tiny,small,base}";
  cmd->add_option("--preset", f.preset, "model size: " + presets)->capture_default_str();
  cmd->add_option("--layers", f.layers, "override: number of blocks L")->check(CLI::Range(1, 1000));
  cmd->add_option("--d-model", f.d_model, "override: width")->check(CLI::Range(1, 65536));
  cmd->add_option("--heads", f.heads, "override: attention heads")->check(CLI::Range(1, 1024));
  cmd->add_option("--d-ff", f.d_ff, "override: MLP width")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--patch-size", f.patch_size, "override: patch size")->check(CLI::Range(1, 1024));
  cmd->add_option(
      "--pool", f.pool,
      "what the head reads: cls (the class token) or mean (of the patches / real tokens)");
  cmd->add_flag("--tie-embeddings", f.tie_embeddings,
                "text decoders: the output projection is the token embedding");
  cmd->add_option("--dropout", f.dropout, "override: residual dropout while training, in [0, 1)")
      ->check(CLI::Range(0.0, 0.99));
  cmd->add_option("--objective", f.objective, "standard, aligned or multihead")
      ->capture_default_str();
  cmd->add_option("--layer-weights", f.layer_weights, "linear, uniform or w_1,...,w_L")
      ->capture_default_str();
  auto& t = f.train;
  cmd->add_option("--epochs", t.epochs, "passes over the training split")->capture_default_str();
  cmd->add_option("--batch-size", t.batch_size)->capture_default_str();
  cmd->add_option("--lr", t.lr, "peak learning rate (AdamW)")->capture_default_str();
  cmd->add_option("--min-lr", t.min_lr, "learning rate at the end of the cosine decay")
      ->capture_default_str();
  cmd->add_option("--warmup-epochs", t.warmup_epochs, "linear warm-up length")
      ->capture_default_str();
  cmd->add_option("--weight-decay", t.weight_decay)->capture_default_str();
  cmd->add_option("--clip-norm", t.clip_norm, "max gradient norm (0: off)")->capture_default_str();
  cmd->add_option("--label-smoothing", t.label_smoothing, "cross-entropy label smoothing in [0, 1)")
      ->capture_default_str();
  cmd->add_option("--augment", t.augment, "none, flip or shift_flip (random +-2 px shifts too)")
      ->capture_default_str();
  cmd->add_option("--seed", t.seed, "initialization, batch order, augmentation")
      ->capture_default_str();
  cmd->add_option("--eval-every", t.eval_every, "validate every N steps (0: each epoch)")
      ->capture_default_str();
  cmd->add_option("--checkpoint-every", t.checkpoint_every,
                  "checkpoint every N steps (0: each epoch)")
      ->capture_default_str();
  cmd->add_option("--log-every", t.log_every, "steps per metrics flush")->capture_default_str();
  cmd->add_option("--dataset", f.data.dataset,
                  "images: fashion-mnist, idx (an MNIST-format folder); text: spam-assassin, jsonl "
                  "({\"text\", \"label\"} per line), text (documents split by blank lines)")
      ->capture_default_str();
  cmd->add_option("--data-dir", f.data.dir,
                  "idx: folder of the IDX files; jsonl, text: the file; fashion-mnist, "
                  "spam-assassin: default = the installed copy");
  cmd->add_option("--classes", f.classes,
                  "images: train on these labels only, e.g. 0-4 or 5,6,7,8,9 (renumbered 0..)");
  cmd->add_option("--labels", f.data.labels,
                  "spam-assassin: binary (ham / spam) or groups (easy ham, hard ham, spam)")
      ->capture_default_str();
  cmd->add_flag("--keep-headers", f.keep_headers, "spam-assassin: keep the mail headers");
  cmd->add_option("--tokenizer", f.data.tokenizer,
                  "text: bpe (trained on the training split) or byte")
      ->capture_default_str();
  cmd->add_option("--vocab-size", f.data.vocab_size,
                  "bpe: vocabulary size incl. 260 bytes+specials")
      ->capture_default_str();
  cmd->add_option("--max-len", f.data.max_len, "text: tokens per sequence (default: the preset's)")
      ->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--test-fraction", f.data.test_fraction, "text: share held out for test")
      ->capture_default_str();
  cmd->add_option("--val-fraction", f.data.val_fraction, "share of training data for validation")
      ->capture_default_str();
  cmd->add_option("--train-limit", f.data.train_limit, "train on the first N samples only (0: all)")
      ->capture_default_str();
  cmd->add_option("--val-limit", f.data.val_limit, "validate on the first N samples only (0: all)")
      ->capture_default_str();
  cmd->add_option("--device", f.device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_flag("--no-bf16", f.no_bf16, "CUDA: train in float32 instead of bf16 autocast");
  cmd->add_option("--stop-after", f.stop_after,
                  "checkpoint and stop after N steps in total (resume later)")
      ->check(CLI::NonNegativeNumber);
}

std::vector<double> parse_numbers(const std::string& list) {
  std::vector<double> values;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    try {
      size_t used = 0;
      values.push_back(std::stod(item, &used));
      LW_CHECK(used == item.size(), "");
    } catch (const std::exception&) {
      throw Error(str_cat("--layer-weights: '", item, "' is not a number"));
    }
  }
  return values;
}

train::RunConfig build_config(const TrainFlags& f) {
  train::RunConfig c;
  c.model = model::model_preset(f.preset);
  if (!f.config_file.empty()) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(read_file(f.config_file));
    } catch (const nlohmann::json::exception& e) {
      throw Error(str_cat(f.config_file, ": not valid JSON (", e.what(), ")"));
    }
    try {
      if (j.contains("model"))
        c.model = j["model"].is_string() ? model::model_preset(j["model"].get<std::string>())
                                         : model::model_config_from_json(j["model"]);
      if (j.contains("train")) c.train = train::train_config_from_json(j["train"]);
      if (j.contains("data")) c.data = data::data_config_from_json(j["data"]);
    } catch (const Error& e) {
      throw Error(str_cat(f.config_file, ": ", e.what()));
    }
  }
  if (f.given("--init")) {  // the checkpoint's architecture; only dropout may change
    for (const char* flag : {"--preset", "--layers", "--d-model", "--heads", "--d-ff",
                             "--patch-size", "--pool", "--tie-embeddings"})
      LW_CHECK(!f.given(flag), flag, " cannot change the architecture of an --init model");
    c.model = train::pretrained_model_config(f.init);
    c.train.init = std::filesystem::absolute(f.init).lexically_normal().string();  // resumable
    c.train.fresh_head = f.fresh_head;
    // Pixels normalized as the model was trained, unless a --config file set them.
    if (c.data.mean == 0 && c.data.std == 0)
      train::pretrained_normalization(f.init, c.data.mean, c.data.std);
  }
  LW_CHECK(!f.fresh_head || f.given("--init"), "--fresh-head goes with --init");
  if (f.given("--preset")) c.model = model::model_preset(f.preset);
  if (f.given("--layers")) c.model.n_layers = f.layers;
  if (f.given("--d-model")) c.model.block.d_model = f.d_model;
  if (f.given("--heads")) c.model.block.n_heads = f.heads;
  if (f.given("--d-ff")) c.model.block.d_ff = f.d_ff;
  if (f.given("--patch-size")) c.model.patch_size = f.patch_size;
  if (f.given("--dropout")) c.model.block.dropout = f.dropout;
  if (f.given("--pool")) c.model.pool = f.pool;
  if (f.tie_embeddings) c.model.tie_embeddings = true;
  if (f.given("--objective")) c.train.objective = train::parse_objective(f.objective);
  if (f.given("--layer-weights")) {
    const bool named = f.layer_weights == "linear" || f.layer_weights == "uniform";
    c.train.layer_weighting = named ? f.layer_weights : "custom";
    c.train.layer_weights = named ? std::vector<double>{} : parse_numbers(f.layer_weights);
  }
  const auto& t = f.train;
  auto& ct = c.train;
  if (f.given("--epochs")) ct.epochs = t.epochs;
  if (f.given("--batch-size")) ct.batch_size = t.batch_size;
  if (f.given("--lr")) ct.lr = t.lr;
  if (f.given("--min-lr")) ct.min_lr = t.min_lr;
  if (f.given("--warmup-epochs")) ct.warmup_epochs = t.warmup_epochs;
  if (f.given("--weight-decay")) ct.weight_decay = t.weight_decay;
  if (f.given("--clip-norm")) ct.clip_norm = t.clip_norm;
  if (f.given("--augment")) ct.augment = t.augment;
  if (f.given("--label-smoothing")) ct.label_smoothing = t.label_smoothing;
  if (f.given("--seed")) ct.seed = t.seed;
  if (f.given("--eval-every")) ct.eval_every = t.eval_every;
  if (f.given("--checkpoint-every")) ct.checkpoint_every = t.checkpoint_every;
  if (f.given("--log-every")) ct.log_every = t.log_every;
  if (f.given("--device")) ct.device = f.device;
  if (f.no_bf16) ct.bf16 = false;
  if (f.given("--dataset")) c.data.dataset = f.data.dataset;
  if (f.given("--data-dir")) c.data.dir = f.data.dir;
  if (f.given("--val-fraction")) c.data.val_fraction = f.data.val_fraction;
  if (f.given("--train-limit")) c.data.train_limit = f.data.train_limit;
  if (f.given("--val-limit")) c.data.val_limit = f.data.val_limit;
  if (f.given("--labels")) c.data.labels = f.data.labels;
  if (f.given("--classes")) c.data.classes = data::parse_class_list(f.classes);
  if (f.keep_headers) c.data.strip_headers = false;
  if (f.given("--tokenizer")) c.data.tokenizer = f.data.tokenizer;
  if (f.given("--vocab-size")) c.data.vocab_size = f.data.vocab_size;
  if (f.given("--test-fraction")) c.data.test_fraction = f.data.test_fraction;
  if (c.model.is_text()) {  // text models: text data, no image augmentation, the model's length
    if (!c.data.is_text()) c.data.dataset = "spam-assassin";
    c.data.task = c.model.arch == "text_decoder" ? "lm" : "classify";
    if (!f.given("--augment")) ct.augment = "none";
    if (f.given("--max-len") && c.train.init.empty()) c.model.max_len = f.data.max_len;
    c.data.max_len =
        std::min(c.model.max_len, f.given("--max-len") ? f.data.max_len : c.model.max_len);
    if (!c.train.init.empty()) {  // the ids the model learned
      LW_CHECK(!f.given("--tokenizer"), "--tokenizer: an --init model keeps its tokenizer");
      c.data.tokenizer = train::pretrained_tokenizer(c.train.init);
    }
  }
  // Check the layer weights now rather than after loading the data.
  train::layer_weights(ct.layer_weighting, c.model.n_layers, ct.layer_weights);
  return c;
}

int run(const TrainFlags& f, const GlobalFlags& global) {
  train::TrainOptions options;
  options.stop_after_steps = f.stop_after;
  options.quiet = global.quiet;
  if (!f.resume.empty()) {
    LW_CHECK(!f.given("--config") && !f.given("--preset") && !f.given("--objective") &&
                 !f.given("--epochs"),
             "--resume continues a run as configured; only --device and --stop-after apply");
    train::resume_run(f.resume, f.given("--device") ? f.device : "", options);
    std::cout << f.resume << "\n";
    return 0;
  }
  LW_CHECK(!f.out.empty(), "train needs --out RUN (a new folder) or --resume RUN");
  train::train_new_run(build_config(f), f.out, options);
  std::cout << f.out << "\n";
  return 0;
}

}  // namespace

Runner add_train(CLI::App& app) {
  return make_subcommand<TrainFlags>(app, add_options, run);
}

}  // namespace layerwise::cli
