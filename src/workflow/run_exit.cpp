#include "layerwise/workflow/run_exit.h"

#include <sstream>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/compat.h"
#include "layerwise/core/cuda_graph.h"
#include "layerwise/core/error.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/core/version.h"
#include "layerwise/data/task_data.h"
#include "layerwise/exit/runner.h"
#include "layerwise/exit/sweep.h"
#include "layerwise/exit/timing.h"
#include "layerwise/inference/predict.h"
#include "layerwise/train/checkpoint.h"
#include "layerwise/train/run_config.h"
#include "layerwise/workflow/sharded_predictions.h"

namespace layerwise::workflow {

nlohmann::json run_exit(const std::string& run_dir, const RunExitOptions& options) {
  const auto run = train::load_run(run_dir, options.inference.device);
  const auto& config = run.config;
  const auto heads = config.model.heads == model::HeadMode::per_layer && !options.last_head
                         ? inference::HeadChoice::own
                         : inference::HeadChoice::last;
  LW_CHECK(config.data.task != data::Task::lm, run_dir, ": early exit is for classifiers; this ",
           "run is a language model (", config.model.arch, ")");
  const auto costs = exit::layer_costs(config.model, train::run_sample_tokens(config));
  const auto test = data::load_split(config.data, options.split, 0, run_dir);
  auto inference = options.inference;
  const bool main = !options.comm || options.comm->is_main();
  if (!options.quiet && main) inference.progress = "layer predictions (" + options.split + ")";
  const auto p =
      predict_layers_sharded(*run.model, test.inputs, test.labels, heads, inference, options.comm);

  nlohmann::json result = {
      {"run", run_dir},
      {"policy", enum_name(options.policy)},
      {"heads", enum_name(heads)},
      {"objective", enum_name(config.train.objective)},
      {"split", options.split},
      {"n_layers", config.model.n_layers},
      {"precision", options.inference.bf16 ? "bf16" : "float32"},
      {"cuda_graphs", options.inference.cuda_graphs && options.inference.device.is_cuda() &&
                          CudaGraph::available()},
      {"full_accuracy", analysis::layer_accuracy(p)[config.model.n_layers - 1].item<double>()},
      {"version", version_string()}};
  result["points"] = nlohmann::json::array();
  for (double t : exit::sweep_thresholds(options.policy, config.model.n_layers))
    result["points"].push_back(exit::to_json(exit::evaluate_policy({options.policy, t}, p, costs)));

  double threshold = options.threshold;
  if (threshold < 0) {
    const auto val = data::load_split(config.data, "val", 0, run_dir);
    LW_CHECK(val.labels.numel() > 0, run_dir, ": the run has no validation split to calibrate on; ",
             "pass --threshold");
    if (!options.quiet && main) inference.progress = "layer predictions (val)";
    const auto pv =
        predict_layers_sharded(*run.model, val.inputs, val.labels, heads, inference, options.comm);
    threshold = exit::calibrate_threshold(options.policy, pv, options.max_drop);
    result["calibration"] = {
        {"max_drop", options.max_drop},
        {"val", exit::to_json(exit::evaluate_policy({options.policy, threshold}, pv, costs))}};
  }
  const exit::ExitPolicy policy{options.policy, threshold};
  auto chosen = exit::to_json(exit::evaluate_policy(policy, p, costs));
  if (!main) return result;  // rank 0 times and writes

  // Wall clock: the batch-dynamic runner at the chosen threshold against the full model.
  // Made model-ready on the device first: the timing measures the model, not the data loader.
  const auto timed =
      test.inputs.slice(0, std::min<int64_t>(options.time_samples, test.inputs.size()))
          .materialize(options.inference.device);
  chosen["timing"] = nlohmann::json::array();
  for (int64_t batch : options.time_batches)
    for (auto schedule : options.time_schedules) {
      auto timing_eval = options.inference;  // without a progress label: timed runs stay quiet
      timing_eval.batch_size = batch;
      chosen["timing"].push_back(exit::to_json(exit::time_early_exit(
          *run.model, timed, policy, heads, timing_eval, schedule, options.time_repeats)));
    }
  result["chosen"] = chosen;
  const std::string path = options.out.empty() ? RunDir(run_dir).exit() : options.out;
  write_file_atomic(path, result.dump(2) + "\n");
  return result;
}

std::vector<int64_t> parse_batch_sizes(const std::string& list, const std::string& flag) {
  std::vector<int64_t> sizes;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    int64_t size = 0;
    try {
      size_t used = 0;
      size = std::stoll(item, &used);
      if (used != item.size()) size = 0;
    } catch (const std::exception&) {
    }
    LW_CHECK(size >= 1, flag, ": '", item, "' is not a positive batch size");
    sizes.push_back(size);
  }
  return sizes;
}

std::vector<exit::Schedule> parse_schedules(const std::string& list, const std::string& flag) {
  std::vector<exit::Schedule> schedules;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    schedules.push_back(parse_enum<exit::Schedule>(item, flag));
  }
  LW_CHECK(!schedules.empty(), flag, ": name at least one schedule (batch, stream)");
  return schedules;
}

}  // namespace layerwise::workflow
