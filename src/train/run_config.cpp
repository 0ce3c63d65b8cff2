#include "layerwise/train/run_config.h"

#include <set>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/core/version.h"

namespace layerwise::train {

void validate(const TrainConfig& c) {
  LW_CHECK(c.epochs >= 1, "--epochs must be >= 1, got ", c.epochs);
  LW_CHECK(c.batch_size >= 1, "--batch-size must be >= 1, got ", c.batch_size);
  LW_CHECK(c.lr > 0 && c.min_lr >= 0 && c.min_lr <= c.lr,
           "--lr must be > 0 and --min-lr in [0, lr],", " got lr ", c.lr, ", min_lr ", c.min_lr);
  LW_CHECK(c.warmup_epochs >= 0, "--warmup-epochs must be >= 0, got ", c.warmup_epochs);
  LW_CHECK(c.weight_decay >= 0, "--weight-decay must be >= 0, got ", c.weight_decay);
  LW_CHECK(c.beta1 >= 0 && c.beta1 < 1 && c.beta2 >= 0 && c.beta2 < 1,
           "AdamW betas must be in [0, 1), got ", c.beta1, ", ", c.beta2);
  LW_CHECK(c.clip_norm >= 0, "--clip-norm must be >= 0, got ", c.clip_norm);
  LW_CHECK(c.label_smoothing >= 0 && c.label_smoothing < 1,
           "--label-smoothing must be in [0, 1), got ", c.label_smoothing);
  LW_CHECK(c.augment == "shift_flip" || c.augment == "flip" || c.augment == "none", "--augment '",
           c.augment, "' is not known; use none, flip or shift_flip");
  LW_CHECK(
      c.eval_every >= 0 && c.checkpoint_every >= 0 && c.log_every >= 1 && c.eval_batch_size >= 1,
      "--eval-every and --checkpoint-every must be >= 0, --log-every >= 1");
}

nlohmann::json to_json(const TrainConfig& c) {
  return {{"objective", to_string(c.objective)},
          {"layer_weighting", c.layer_weighting},
          {"layer_weights", c.layer_weights},
          {"epochs", c.epochs},
          {"batch_size", c.batch_size},
          {"lr", c.lr},
          {"min_lr", c.min_lr},
          {"warmup_epochs", c.warmup_epochs},
          {"weight_decay", c.weight_decay},
          {"beta1", c.beta1},
          {"beta2", c.beta2},
          {"clip_norm", c.clip_norm},
          {"label_smoothing", c.label_smoothing},
          {"augment", c.augment},
          {"seed", c.seed},
          {"eval_every", c.eval_every},
          {"checkpoint_every", c.checkpoint_every},
          {"log_every", c.log_every},
          {"eval_batch_size", c.eval_batch_size},
          {"device", c.device},
          {"bf16", c.bf16},
          {"init", c.init},
          {"fresh_head", c.fresh_head}};
}

TrainConfig train_config_from_json(const nlohmann::json& j, TrainConfig c) {
  LW_CHECK(j.is_object(), "train config must be a JSON object");
  const auto known = to_json(c);
  for (const auto& item : j.items())
    LW_CHECK(known.contains(item.key()), "train config: unknown field '", item.key(), "'");
  try {
    if (j.contains("objective"))
      c.objective = parse_objective(j.at("objective").get<std::string>());
    c.layer_weighting = j.value("layer_weighting", c.layer_weighting);
    c.layer_weights = j.value("layer_weights", c.layer_weights);
    c.epochs = j.value("epochs", c.epochs);
    c.batch_size = j.value("batch_size", c.batch_size);
    c.lr = j.value("lr", c.lr);
    c.min_lr = j.value("min_lr", c.min_lr);
    c.warmup_epochs = j.value("warmup_epochs", c.warmup_epochs);
    c.weight_decay = j.value("weight_decay", c.weight_decay);
    c.beta1 = j.value("beta1", c.beta1);
    c.beta2 = j.value("beta2", c.beta2);
    c.clip_norm = j.value("clip_norm", c.clip_norm);
    c.label_smoothing = j.value("label_smoothing", c.label_smoothing);
    c.augment = j.value("augment", c.augment);
    c.seed = j.value("seed", c.seed);
    c.eval_every = j.value("eval_every", c.eval_every);
    c.checkpoint_every = j.value("checkpoint_every", c.checkpoint_every);
    c.log_every = j.value("log_every", c.log_every);
    c.eval_batch_size = j.value("eval_batch_size", c.eval_batch_size);
    c.device = j.value("device", c.device);
    c.bf16 = j.value("bf16", c.bf16);
    c.init = j.value("init", c.init);
    c.fresh_head = j.value("fresh_head", c.fresh_head);
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat("train config: ", e.what()));
  }
  return c;
}

nlohmann::json to_json(const RunConfig& c) {
  return {{"objective", to_string(c.train.objective)},
          {"model", model::to_json(c.model)},
          {"train", to_json(c.train)},
          {"data", data::to_json(c.data)},
          {"version", version_string()}};
}

RunConfig run_config_from_json(const nlohmann::json& j) {
  LW_CHECK(j.is_object() && j.contains("model") && j.contains("train") && j.contains("data"),
           "run config needs the objects model, train and data");
  RunConfig c;
  c.model = model::model_config_from_json(j.at("model"));
  c.train = train_config_from_json(j.at("train"));
  c.data = data::data_config_from_json(j.at("data"));
  LW_CHECK(!j.contains("objective") || j.at("objective") == to_string(c.train.objective),
           "run config: objective ", j.at("objective"), " differs from train.objective");
  LW_CHECK(c.model.heads == head_mode_for(c.train.objective), "run config: objective ",
           to_string(c.train.objective), " needs model heads ",
           model::to_string(head_mode_for(c.train.objective)));
  return c;
}

RunConfig read_run_config(const std::string& run_dir) {
  const std::string path = run_dir + "/config.json";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(path, ": not valid JSON (", e.what(), ")"));
  }
  try {
    return run_config_from_json(j);
  } catch (const Error& e) {
    throw Error(str_cat(path, ": ", e.what()));
  }
}

void write_run_config(const std::string& run_dir, const RunConfig& config) {
  write_file_atomic(run_dir + "/config.json", to_json(config).dump(2) + "\n");
}

}  // namespace layerwise::train
