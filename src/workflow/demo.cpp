#include "layerwise/workflow/demo.h"

#include <cstdio>
#include <iostream>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/core/version.h"
#include "layerwise/model/config.h"
#include "layerwise/report/html_report.h"
#include "layerwise/train/checkpoint.h"
#include "layerwise/train/trainer.h"
#include "layerwise/workflow/run_eval.h"
#include "layerwise/workflow/run_exit.h"
#include "layerwise/workflow/run_similarity.h"

namespace layerwise::workflow {

namespace {

// Trains the run, resumes it if interrupted, or leaves it if finished.
void ensure_trained(const train::RunConfig& config, const std::string& run_dir,
                    const DemoOptions& options) {
  train::TrainOptions train_options;
  train_options.quiet = options.quiet;
  const RunDir run(run_dir);
  if (run.finished()) {
    if (!options.quiet) std::cerr << run_dir << ": already trained, reusing it\n";
  } else if (run.has_config()) {  // interrupted, perhaps before its first checkpoint
    train::resume_run(run_dir, options.device, train_options);
  } else {
    train::train_new_run(config, run_dir, train_options);
  }
}

}  // namespace

nlohmann::json run_demo(const DemoOptions& options) {
  LW_CHECK(options.epochs >= 1, "the demo's epochs must be >= 1, got ", options.epochs);
  std::vector<train::Objective> objectives = {train::Objective::standard,
                                              train::Objective::aligned};
  if (options.multihead) objectives.push_back(train::Objective::multihead);
  make_directories(options.out);
  std::vector<std::string> run_dirs;

  nlohmann::json summary = {{"preset", options.preset},
                            {"epochs", options.epochs},
                            {"device", options.device},
                            {"version", version_string()},
                            {"runs", nlohmann::json::object()}};
  for (const auto objective : objectives) {
    const std::string name = enum_name(objective);
    const std::string run_dir = options.out + "/" + name;
    train::RunConfig config;
    config.model = model::vit_preset(options.preset);
    config.train.objective = objective;
    config.train.epochs = options.epochs;
    config.train.batch_size = options.batch_size;
    config.train.lr = options.lr;
    config.train.augment = options.augment;
    config.train.seed = options.seed;
    config.train.device = options.device;
    config.train.warmup_epochs = std::min(1.0, 0.2 * double(options.epochs));
    config.data.dir = options.data_dir;
    config.data.train_limit = options.train_limit;
    if (!options.quiet) std::cerr << "== " << name << " ==\n";
    ensure_trained(config, run_dir, options);

    RunEvalOptions eval;
    eval.inference.device = torch::Device(options.device);
    eval.quiet = options.quiet;
    const auto eval_json = evaluate_run(run_dir, eval);
    RunSimilarityOptions similarity;
    similarity.samples = options.similarity_samples;
    similarity.inference.device = eval.inference.device;
    similarity.quiet = options.quiet;
    const auto sim = run_similarity(run_dir, similarity);
    RunExitOptions exit;  // curves and a calibrated threshold for the report; timing: bench_exit
    exit.inference.device = eval.inference.device;
    exit.quiet = options.quiet;
    run_exit(run_dir, exit);

    nlohmann::json entry = {
        {"run", run_dir},
        {"accuracy", eval_json.at("accuracy")},
        {"final_accuracy", eval_json.at("final_accuracy")},
        {"minimal_depth", eval_json.at("minimal_depth")},
        {"mean_saturation_layer", eval_json.at("mean_saturation_layer")},
        {"cos_cka_correlation",
         analysis::matrix_correlation(sim.metrics.at("cos"), sim.metrics.at("cka_linear"))}};
    if (eval_json.contains("last_head"))
      entry["last_head_accuracy"] = eval_json.at("last_head").at("accuracy");
    summary["runs"][name] = entry;
    run_dirs.push_back(run_dir);
  }
  summary["report"] = options.out + "/report.html";
  report::write_report(run_dirs, summary["report"].get<std::string>());
  write_file_atomic(options.out + "/summary.json", summary.dump(2) + "\n");
  write_file_atomic(options.out + "/summary.txt", demo_summary_text(summary));
  return summary;
}

std::string demo_summary_text(const nlohmann::json& summary) {
  const auto& runs = summary.at("runs");
  std::vector<std::pair<std::string, nlohmann::json>> columns;  // header, per-layer accuracies
  for (const auto& [name, run] : runs.items()) {
    columns.emplace_back(name, run.at("accuracy"));
    if (run.contains("last_head_accuracy"))
      columns.emplace_back(name + " (last head)", run.at("last_head_accuracy"));
  }
  std::string text = "Test accuracy (%) of the last layer's classifier applied after each layer\n";
  text += "(" + summary.at("preset").get<std::string>() + " ViT, Fashion-MNIST, " +
          std::to_string(summary.at("epochs").get<int64_t>()) + " epochs)\n\n";
  char cell[64];
  text += "layer";
  for (const auto& [header, values] : columns) text += " | " + header;
  text += "\n";
  const size_t n_layers = columns.empty() ? 0 : columns.front().second.size();
  for (size_t l = 0; l < n_layers; ++l) {
    std::snprintf(cell, sizeof cell, "%5zu", l + 1);
    text += cell;
    for (const auto& [header, values] : columns) {
      std::snprintf(cell, sizeof cell, " | %*.1f", int(header.size()),
                    100 * values.at(l).get<double>());
      text += cell;
    }
    text += "\n";
  }
  text += "\n";
  for (const auto& [name, run] : runs.items()) {
    std::snprintf(cell, sizeof cell, "%-10s", name.c_str());
    text += cell;
    std::snprintf(cell, sizeof cell,
                  " final %.1f%%  minimal depth %lld  mean saturation layer %.2f  ",
                  100 * run.at("final_accuracy").get<double>(),
                  (long long)run.at("minimal_depth").get<int64_t>(),
                  run.at("mean_saturation_layer").get<double>());
    text += cell;
    std::snprintf(cell, sizeof cell, "corr(COS, CKA) %.3f\n",
                  run.at("cos_cka_correlation").get<double>());
    text += cell;
  }
  return text;
}

}  // namespace layerwise::workflow
