// A run folder: the one place that knows its files, whether a folder is a run, whether its
// training finished, and the trainer state. Commands find a run's files here, never by spelling
// their names. It sits in core so that the report (which reads result files, never models) and
// the training code share it; the configuration's format belongs to train/run_config.h.
//
//   config.json                  the run's configuration and the code version (train/run_config.h)
//   checkpoints/step-000000123/  one complete checkpoint (train/checkpoint.h): the three files
//                                below and manifest.json (their sizes and CRC-32s)
//   checkpoint                   link to the newest published checkpoint folder
//   model.safetensors            the weights; metadata "step"            } links through
//   optimizer.safetensors        AdamW moments; metadata "step"          } `checkpoint` (plain
//   trainer_state.json           {"step", "total_steps", "seconds",      } files in runs written
//                                 "finished"}                            } before checkpoints/)
//   metrics.jsonl                one line per training step and per validation
//   eval.json, eval_predictions.safetensors                     layerwise eval
//   similarity.json, <measure>.csv, <measure>.svg, activations.safetensors   layerwise similarity
//   exit.json                    layerwise exit
//   import.json                  layerwise import: where the model came from
//   layerwise_export.json        layerwise export: the run and depth the model was cut from (in
//                                the run folders export writes, and in its Hugging Face folders)
//   tokenizer.json               text runs: layerwise's own tokenizer (bpe, byte); runs of imported
//                                models hold Hugging Face's files instead (vocab.txt, vocab.json,
//                                ...)
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace layerwise {

struct TrainerState {
  int64_t step = 0;         // optimizer steps done
  int64_t total_steps = 0;  // steps of the whole run
  double seconds = 0;       // training time so far (validation and checkpoints included)
  bool finished() const { return step >= total_steps; }
};

/// A trainer_state.json file; throws layerwise::Error naming the file if missing or malformed.
TrainerState read_trainer_state(const std::string& path);
/// Writes a trainer_state.json file atomically.
void write_trainer_state(const std::string& path, const TrainerState& state);

class RunDir {
 public:
  explicit RunDir(std::string path);

  const std::string& path() const { return path_; }
  /// PATH/name, for files named by what they hold (a measure's CSV, a tokenizer's vocabulary).
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  std::string config() const { return file("config.json"); }
  std::string model() const { return file("model.safetensors"); }
  std::string optimizer() const { return file("optimizer.safetensors"); }
  std::string trainer_state() const { return file("trainer_state.json"); }
  std::string metrics() const { return file("metrics.jsonl"); }
  std::string eval() const { return file("eval.json"); }
  std::string eval_predictions() const { return file("eval_predictions.safetensors"); }
  std::string similarity() const { return file("similarity.json"); }
  std::string activations() const { return file("activations.safetensors"); }
  std::string exit() const { return file("exit.json"); }
  std::string import_info() const { return file("import.json"); }
  std::string export_info() const { return file("layerwise_export.json"); }
  std::string tokenizer() const { return file("tokenizer.json"); }

  std::string checkpoints() const { return file("checkpoints"); }
  std::string checkpoint_link() const { return file("checkpoint"); }
  /// RUN/checkpoints/step-<step, 9 digits>.
  std::string checkpoint_folder(int64_t step) const;
  /// The checkpoint folders with their steps, newest first (folders still being written, named
  /// *.partial, left out).
  std::vector<std::pair<int64_t, std::string>> checkpoint_folders() const;
  /// Removes what an interrupted write leaves behind: *.tmp.<pid> files and links in the run
  /// folder, checkpoints/*.partial and *.old folders.
  void remove_stale_temporaries() const;

  /// A run: config.json and trainer_state.json (written at the first checkpoint).
  bool is_run() const;
  /// config.json is there: a run, or one that never reached its first checkpoint.
  bool has_config() const;
  /// A run whose trainer state says every step is done.
  bool finished() const;

  /// trainer_state.json; throws layerwise::Error naming the file if missing or malformed.
  TrainerState read_state() const;
  /// Writes trainer_state.json atomically.
  void write_state(const TrainerState& state) const;

 private:
  std::string path_;
};

}  // namespace layerwise
