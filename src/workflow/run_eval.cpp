#include "layerwise/workflow/run_eval.h"

#include <chrono>
#include <cmath>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/core/safetensors.h"
#include "layerwise/core/version.h"
#include "layerwise/data/task_data.h"
#include "layerwise/inference/predict.h"
#include "layerwise/model/depth_cost.h"
#include "layerwise/train/checkpoint.h"
#include "layerwise/train/run_config.h"
#include "layerwise/workflow/sharded_predictions.h"

namespace layerwise::workflow {

namespace {

std::string folder_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Language models: perplexity exp(mean next-token loss) per layer, next to the loss.
void add_perplexity(nlohmann::json& summary) {
  auto perplexity = nlohmann::json::array();
  for (const auto& loss : summary["loss"]) perplexity.push_back(std::exp(loss.get<double>()));
  summary["perplexity"] = perplexity;
}

// What the model cut after each layer costs (export --depth K), for the report's layer-wise table
// and eval's printed one.
void add_depth_costs(nlohmann::json& result, const train::RunConfig& config) {
  auto parameters = nlohmann::json::array(), flops = nlohmann::json::array();
  for (const auto& cost : model::depth_costs(config.model, train::run_sample_tokens(config))) {
    parameters.push_back(cost.parameters);
    flops.push_back(cost.flops);
  }
  result["depth_parameters"] = parameters;
  result["depth_flops"] = flops;
}

}  // namespace

nlohmann::json evaluate_run(const std::string& run_dir, const RunEvalOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  LW_CHECK(options.tolerance >= 0 && options.tolerance < 1,
           "the minimal-depth tolerance must be in [0, 1), got ", options.tolerance);
  const auto run = train::load_run(run_dir, options.inference.device);
  const auto examples = data::load_split(run.config.data, options.split, options.samples, run_dir);
  const bool per_layer = run.config.model.heads == model::HeadMode::per_layer;
  auto inference = options.inference;
  const bool main = !options.comm || options.comm->is_main();
  if (!options.quiet && main) inference.progress = "eval (" + options.split + ")";
  const auto own =
      predict_layers_sharded(*run.model, examples.inputs, examples.labels,
                             per_layer ? inference::HeadChoice::own : inference::HeadChoice::last,
                             inference, options.comm);
  const bool lm = run.model->per_token();
  auto result = analysis::layerwise_summary(own, options.tolerance);
  if (lm) add_perplexity(result);
  if (per_layer) {
    if (!options.quiet && main) inference.progress = "eval (" + options.split + ", last head)";
    const auto last = predict_layers_sharded(*run.model, examples.inputs, examples.labels,
                                             inference::HeadChoice::last, inference, options.comm);
    result["last_head"] = analysis::layerwise_summary(last, options.tolerance);
    if (lm) add_perplexity(result["last_head"]);
  }
  result["run"] = run_dir;
  result["split"] = options.split;
  result["objective"] = enum_name(run.config.train.objective);
  result["heads"] = enum_name(run.config.model.heads);
  result["n_layers"] = run.config.model.n_layers;
  result["arch"] = enum_name(run.config.model.arch);
  add_depth_costs(result, run.config);
  if (lm) result["items"] = "next-token predictions (n_samples counts positions)";
  result["trained_steps"] = run.state.step;
  result["total_steps"] = run.state.total_steps;
  result["device"] = options.inference.device.str();
  result["version"] = version_string();

  if (!main) return result;  // rank 0 writes
  const std::string json_path = options.out.empty() ? RunDir(run_dir).eval() : options.out;
  const std::string predictions_path = RunDir(folder_of(json_path)).eval_predictions();
  write_safetensors(predictions_path,
                    {{"predictions", own.predictions},
                     {"confidence", own.confidence},
                     {"entropy", own.entropy},
                     {"loss", own.loss},
                     {"cos_to_last", own.cos_to_last},
                     {"labels", own.labels},
                     {"saturation_layer", analysis::saturation_layers(own.predictions)}},
                    {{"split", options.split}, {"run", run_dir}, {"version", version_string()}});
  result["seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  write_file_atomic(json_path, result.dump(2) + "\n");
  return result;
}

}  // namespace layerwise::workflow
