// A training run's full description, stored as RUN/config.json: enough to rebuild the model, reload
// the same data split and reproduce the run, plus the code version that made it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerwise/data/task_data.h"
#include "layerwise/model/config.h"
#include "layerwise/train/objective.h"

namespace layerwise::train {

/// Image augmentation while training: none, flip (horizontal, p = 1/2), shift_flip (also random
/// shifts of up to 2 pixels).
enum class Augment { none, flip, shift_flip };

struct TrainConfig {
  Objective objective = Objective::aligned;
  LayerWeighting layer_weighting = LayerWeighting::linear;
  std::vector<double> layer_weights;  // layer_weighting custom: one weight per layer
  double weight_rate = 1.0;           // layer_weighting exponential: w_l ∝ exp(rate l / L)
  double last_weight_boost = 1.0;     // the last layer's weight x this (others rescaled)
  double weight_lr_scale = 10.0;      // layer_weighting learned: its lr as a multiple of lr
  double distill = 0;                 // self-distillation weight lambda (objective.h); 0: off
  double distill_temperature = 1.0;   // its softmax temperature T
  int64_t epochs = 10;
  int64_t batch_size = 128;
  double lr = 1e-3;            // peak learning rate after warm-up
  double min_lr = 1e-5;        // at the end of the cosine decay
  double warmup_epochs = 1.0;  // linear warm-up length (may be fractional)
  double weight_decay = 0.05;  // AdamW, matrices only
  double beta1 = 0.9, beta2 = 0.999;
  double adam_eps = 1e-8;           // AdamW's epsilon (the denominator's floor)
  double clip_norm = 1.0;           // max global gradient norm; 0: no clipping
  double label_smoothing = 0;       // cross-entropy against (1 - e) one-hot + e uniform
  Augment augment = Augment::flip;  // text runs: none
  uint64_t seed = 0;                // model initialization, batch order, augmentation
  int64_t eval_every = 0;           // validate every this many steps; 0: at the end of each epoch
  int64_t checkpoint_every = 0;     // checkpoint every this many steps; 0: at the end of each epoch
  int64_t keep_checkpoints = 2;     // complete checkpoints kept (the newest); at least 1
  int64_t log_every = 10;           // steps between metric flushes (one device sync each)
  int64_t eval_batch_size = 512;
  std::string device = "cpu";  // cpu | cuda | cuda:N
  bool bf16 = true;            // bf16 autocast on CUDA (ignored on CPU)
  bool cuda_graphs = true;     // replay each training step as a CUDA graph (CUDA builds only)
  std::string init;            // start from this model (a run or a Hugging Face folder); "": random
  bool fresh_head = false;     // with init: a new classifier even when the class count matches
};

/// The settings of training, described once (core/config_fields.h).
template <typename C, typename Field, enable_for<C, TrainConfig> = 0>
void visit_fields(C& c, Field&& field) {
  field("objective", c.objective);
  field("layer_weighting", c.layer_weighting);
  field("layer_weights", c.layer_weights);
  field("weight_rate", c.weight_rate, in_range(-50, 50, false));
  field("last_weight_boost", c.last_weight_boost, above(0));
  field("weight_lr_scale", c.weight_lr_scale, above(0));
  field("distill", c.distill, at_least(0));
  field("distill_temperature", c.distill_temperature, above(0));
  field("epochs", c.epochs, at_least(1));
  field("batch_size", c.batch_size, at_least(1));
  field("lr", c.lr, above(0));
  field("min_lr", c.min_lr, at_least(0));
  field("warmup_epochs", c.warmup_epochs, at_least(0));
  field("weight_decay", c.weight_decay, at_least(0));
  field("beta1", c.beta1, in_range(0, 1));
  field("beta2", c.beta2, in_range(0, 1));
  field("adam_eps", c.adam_eps, above(0));
  field("clip_norm", c.clip_norm, at_least(0));
  field("label_smoothing", c.label_smoothing, in_range(0, 1));
  field("augment", c.augment);
  field("seed", c.seed);
  field("eval_every", c.eval_every, at_least(0));
  field("checkpoint_every", c.checkpoint_every, at_least(0));
  field("keep_checkpoints", c.keep_checkpoints, at_least(1));
  field("log_every", c.log_every, at_least(1));
  field("eval_batch_size", c.eval_batch_size, at_least(1));
  field("device", c.device);
  field("bf16", c.bf16);
  field("cuda_graphs", c.cuda_graphs);
  field("init", c.init);
  field("fresh_head", c.fresh_head);
}

/// The layer-weight schedule the settings describe (objective.h).
WeightSchedule weight_schedule(const TrainConfig& c);

/// Throws layerwise::Error naming the setting out of range (train.epochs, ...).
void validate(const TrainConfig& config);

struct RunConfig {
  model::ModelConfig model;
  TrainConfig train;
  data::DataConfig data;
};

/// {"objective", "model": {...}, "train": {...}, "data": {...}, "version": ...}.
nlohmann::json to_json(const RunConfig& config);
/// Reads to_json's output (the version field is ignored; unknown fields are refused).
RunConfig run_config_from_json(const nlohmann::json& json);

nlohmann::json to_json(const TrainConfig& config);
/// Fields present in `json` override those of `base`.
TrainConfig train_config_from_json(const nlohmann::json& json, TrainConfig base = {});

/// Where a new run's configuration comes from; later sources win: the defaults, the model preset,
/// a config file, then the settings given one by one (the CLI's flags). A run started from a
/// trained model (init) takes that model's architecture, tokenizer and pixel normalization.
/// Tokens of one sample as the run feeds its model, for FLOP counts (model/depth_cost.h): text
/// models the length the data is padded to (at most the model's); images 0 (the model's own).
int64_t run_sample_tokens(const RunConfig& c);

struct RunConfigSources {
  std::string preset;     // model preset; "": the file's model, else "small"
  nlohmann::json file;    // a config file: {"model": {...} or "preset name", "train": {...},
                          // "data": {...}}; null: none
  std::string file_name;  // the file's path, for messages
  nlohmann::json settings = nlohmann::json::object();  // {"model": {...}, "train", "data"}
  std::string init;  // train.init: a run folder or a Hugging Face checkpoint folder
};

/// The configuration of a new run from its sources, with the defaults text models need (dataset
/// spam-assassin, task from the architecture, no augmentation, sequence length from the model),
/// checked. Throws layerwise::Error naming the setting at fault ("train.epochs must be >= 1").
RunConfig resolve_run_config(const RunConfigSources& sources);

/// The JSON value of setting "section.field" (model.d_model, train.epochs, data.classes, ...)
/// written on a command line as `text`; throws naming the setting when it is not such a value.
nlohmann::json setting_from_text(const std::string& setting, const std::string& text);

/// Puts `value` at "section.field" of a settings document (RunConfigSources::settings).
void set_setting(nlohmann::json& settings, const std::string& setting, nlohmann::json value);

/// RUN/config.json: read and write (atomically).
RunConfig read_run_config(const std::string& run_dir);
void write_run_config(const std::string& run_dir, const RunConfig& config);

}  // namespace layerwise::train

namespace layerwise {
template <>
struct EnumNames<train::Augment> {
  static constexpr std::pair<train::Augment, const char*> values[] = {
      {train::Augment::none, "none"},
      {train::Augment::flip, "flip"},
      {train::Augment::shift_flip, "shift_flip"}};
};
}  // namespace layerwise
