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

struct TrainConfig {
  Objective objective = Objective::aligned;
  std::string layer_weighting = "linear";  // linear | uniform | custom (then layer_weights)
  std::vector<double> layer_weights;       // custom weights, one per layer
  int64_t epochs = 10;
  int64_t batch_size = 128;
  double lr = 1e-3;            // peak learning rate after warm-up
  double min_lr = 1e-5;        // at the end of the cosine decay
  double warmup_epochs = 1.0;  // linear warm-up length (may be fractional)
  double weight_decay = 0.05;  // AdamW, matrices only
  double beta1 = 0.9, beta2 = 0.999;
  double clip_norm = 1.0;        // max global gradient norm; 0: no clipping
  double label_smoothing = 0;    // cross-entropy against (1 - e) one-hot + e uniform
  std::string augment = "flip";  // none | flip (horizontal, p = 1/2) | shift_flip (also +-2 px)
  uint64_t seed = 0;             // model initialization, batch order, augmentation
  int64_t eval_every = 0;        // validate every this many steps; 0: at the end of each epoch
  int64_t checkpoint_every = 0;  // checkpoint every this many steps; 0: at the end of each epoch
  int64_t log_every = 10;        // steps between metric flushes (one device sync each)
  int64_t eval_batch_size = 512;
  std::string device = "cpu";  // cpu | cuda | cuda:N
  bool bf16 = true;            // bf16 autocast on CUDA (ignored on CPU)
  std::string init;            // start from this model (a run or a Hugging Face folder); "": random
  bool fresh_head = false;     // with init: a new classifier even when the class count matches
};

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
/// Fields present in `json` override those of `base` (used by --config files).
TrainConfig train_config_from_json(const nlohmann::json& json, TrainConfig base = {});

/// RUN/config.json: read and write (atomically).
RunConfig read_run_config(const std::string& run_dir);
void write_run_config(const std::string& run_dir, const RunConfig& config);

}  // namespace layerwise::train
