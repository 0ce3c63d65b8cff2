// `layerwise demo`: the paper's central experiment at CPU scale. Trains a standard and an aligned
// ViT (and, on request, a multi-head one) on Fashion-MNIST with the same budget, reads each layer
// by layer on the test set, computes COS and linear CKA matrices and early-exit curves, and writes
// a summary and an HTML report of the runs (OUT/report.html).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "layerwise/train/run_config.h"

namespace layerwise::workflow {

struct DemoOptions {
  std::string out = "demo_out";  // one run folder per objective, plus summary.txt / summary.json
  std::string preset = "small";  // model size (see vit_preset)
  int64_t epochs = 2;
  int64_t batch_size = 256;  // larger batches halve the per-step overhead on CPU
  double lr = 2e-3;
  train::Augment augment = train::Augment::none;  // a few epochs learn faster without it
  int64_t train_limit = 0;                        // > 0: train on this many samples only
  int64_t similarity_samples = 2000;
  bool multihead = false;  // also train the multi-head baseline
  std::string device = "cpu";
  std::string data_dir;  // Fashion-MNIST folder; empty: Debian's
  uint64_t seed = 0;
  bool quiet = false;
};

/// Runs (or resumes, or reuses finished) runs and returns the summary written to
/// OUT/summary.json; OUT/summary.txt holds the same as a table.
nlohmann::json run_demo(const DemoOptions& options);

/// The summary table: accuracy per layer for each run, minimal depth, mean saturation layer and
/// the correlation of the COS and linear CKA matrices.
std::string demo_summary_text(const nlohmann::json& summary);

}  // namespace layerwise::workflow
