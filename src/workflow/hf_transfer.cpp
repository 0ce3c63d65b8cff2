#include "layerwise/workflow/hf_transfer.h"

#include <filesystem>
#include <tuple>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/core/progress.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/core/safetensors.h"
#include "layerwise/core/staged_folder.h"
#include "layerwise/core/version.h"
#include "layerwise/data/hf_image_processor.h"
#include "layerwise/data/text_codec.h"
#include "layerwise/model/depth_cost.h"
#include "layerwise/model/hf_checkpoint.h"
#include "layerwise/model/text_models.h"
#include "layerwise/model/truncate.h"
#include "layerwise/model/weights.h"
#include "layerwise/train/checkpoint.h"
#include "layerwise/train/pretrained.h"
#include "layerwise/train/run_config.h"

namespace layerwise::workflow {

namespace fs = std::filesystem;

namespace {

// Images: made model-ready as the checkpoint's processor says (its size, crop and normalization;
// resize and crop flags win), else resized to the model's size with the pixels normalized as
// measured on the data; the result must be what the model reads.
void fit_image_data(const std::string& hf_dir, const model::ModelConfig& m, data::DataConfig& d) {
  const bool geometry_given = !d.resize.empty() || !d.crop.empty();
  const auto given = d;
  if (file_exists(hf_dir + "/preprocessor_config.json")) {
    data::apply_image_processor(data::read_hf_image_processor(hf_dir), m.in_channels, d);
  } else {
    d.resize = {m.image_size, m.image_size};
    d.channels = m.in_channels;
  }
  if (geometry_given) {
    d.resize = given.resize;
    d.crop = given.crop;
  }
  auto unnormalized = d;  // one test sample, for its shape
  unnormalized.mean = 0;
  unnormalized.std = 1;
  const auto probe = data::load_split(unnormalized, "test", 1);
  const auto shape = probe.inputs.sample_shape();  // (C, H, W)
  LW_CHECK(shape[0] == m.in_channels && shape[1] == m.image_size && shape[2] == m.image_size,
           hf_dir, " reads ", m.in_channels, " x ", m.image_size, " x ", m.image_size,
           " images; dataset ", d.dataset, " gives ", shape[0], " x ", shape[1], " x ", shape[2],
           " (data.resize and data.crop, --resize and --crop, set the size)");
}

// Text: the run keeps the checkpoint's tokenizer files and reads data with them.
void fit_text_data(const std::string& hf_dir, const std::string& run_dir,
                   const model::ModelConfig& m, const model::HfFamily family, data::DataConfig& d) {
  const bool bert = family == model::HfFamily::bert;
  d.tokenizer = bert ? data::TokenizerKind::wordpiece : data::TokenizerKind::gpt2;
  d.task = bert ? data::Task::classify : data::Task::lm;
  d.max_len = std::min(d.max_len, m.max_len);
  for (const auto& name : data::hf_tokenizer_files(d.tokenizer)) {
    const auto from = hf_dir + "/" + name;
    if (name == "tokenizer_config.json" && !file_exists(from)) continue;
    LW_CHECK(file_exists(from), hf_dir, ": no ", name, " (the tokenizer of ", d.tokenizer,
             " models; text runs need it to read data)");
    write_file_atomic(RunDir(run_dir).file(name), read_file(from));
  }
  const auto codec = data::run_text_codec(d, run_dir, nullptr);
  LW_CHECK(codec.vocab_size <= m.vocab_size, hf_dir, ": the tokenizer has ", codec.vocab_size,
           " tokens, the model's vocabulary ", m.vocab_size);
  LW_CHECK(d.task != data::Task::classify || codec.pad == m.pad_id, hf_dir, ": [PAD] is id ",
           codec.pad, " in vocab.txt but pad_token_id is ", m.pad_id, " in config.json");
}

// A few inputs the model reads: images from N(0, 1), or token ids past the special ones.
torch::Tensor reference_inputs(const model::ModelConfig& m) {
  torch::manual_seed(0);
  if (!m.is_text()) return torch::randn({4, m.in_channels, m.image_size, m.image_size});
  const int64_t length = std::min<int64_t>(m.max_len, 16);
  return torch::randint(std::min<int64_t>(5, m.vocab_size - 1), m.vocab_size, {3, length},
                        torch::kInt64);
}

// A few inputs and what the model computes for them, as transformers numbers hidden states.
void write_reference(model::LayeredModel& model, const std::string& path,
                     const std::string& source) {
  torch::NoGradGuard no_grad;
  const auto inputs = reference_inputs(model.config());
  auto hidden = model.forward_layers(inputs);
  const auto logits = model.head(model.pool(hidden.back(), model.token_mask(inputs)));
  if (model.config().arch ==
      model::Arch::text_decoder)  // GPT-2 reports layer L after its final LayerNorm
    hidden.back() = model.final_norm(hidden.back());
  std::vector<std::pair<std::string, torch::Tensor>> tensors = {{"inputs", inputs}};
  for (size_t i = 0; i < hidden.size(); ++i)
    tensors.emplace_back(str_cat("hidden_states.", i), hidden[i]);
  tensors.emplace_back("logits", logits);
  write_safetensors(path, tensors, {{"source", source}, {"format", "pt"}});
}

// Tokens per sample: text runs read sequences of data.max_len tokens; images (0) their patches.
std::string head_description(const model::ModelConfig& source, int64_t depth) {
  if (source.heads == model::HeadMode::shared)
    return str_cat("the last layer's head (shared by every layer), read after block ", depth);
  const auto exits = depth == 1   ? std::string()
                     : depth == 2 ? std::string("; the exit head of layer 1 kept")
                                  : str_cat("; the exit heads of layers 1..", depth - 1, " kept");
  return (depth < source.n_layers ? str_cat("layer ", depth, "'s own head") : "the last head") +
         " (multi-head run)" + exits;
}

// layerwise_export.json: where the model came from and what it costs.
nlohmann::json export_info(const train::LoadedRun& run, const std::string& run_dir,
                           const ExportResult& r) {
  nlohmann::json info = {{"source", fs::absolute(run_dir).lexically_normal().string()},
                         {"source_layers", r.source_layers},
                         {"source_step", run.state.step},
                         {"depth", r.depth},
                         {"format", r.hugging_face ? "hugging_face" : "layerwise_run"},
                         {"head", head_description(run.config.model, r.depth)},
                         {"parameters", r.parameters},
                         {"flops_per_sample", r.flops},
                         {"version", version_string()}};
  if (r.hugging_face)
    info["architecture"] = r.architecture;
  else
    info["why_not_hugging_face"] = r.why_not_hf;
  return info;
}

// A transformers folder (model/hf_checkpoint.h) of `model`, with the reference outputs, the
// run's tokenizer and layerwise_export.json beside it; result.architecture says which.
void export_hf_folder(const train::LoadedRun& run, model::LayeredModel& model,
                      const std::string& run_dir, const std::string& out_dir,
                      ExportResult& result) {
  const auto& m = model.config();
  const auto& data = run.config.data;
  model::HfExportOptions options;
  if (!m.is_text() || data.task == data::Task::classify) {
    try {  // the dataset's names label the outputs when it is installed here
      options.class_names = data::task_class_names(data, run_dir);
    } catch (const Error&) {
    }
  }
  if (m.arch == model::Arch::text_decoder) {  // GPT-2's special ids are the run tokenizer's
    const auto codec = data::run_text_codec(data, run_dir, nullptr);
    options.bos_id = codec.bos >= 0 ? codec.bos : codec.eos;
    options.eos_id = codec.eos;
  }
  result.architecture = model::hf_config_json(m, {})["architectures"][0].get<std::string>();
  const RunDir files(run_dir);
  options.add_files = [&](const std::string& folder) {
    write_reference(model, folder + "/layerwise_reference.safetensors", run_dir);
    if (!m.is_text())  // the run's resize, crop and normalization, as transformers reads them
      write_file_atomic(
          folder + "/preprocessor_config.json",
          data::hf_image_processor_json(data, m.in_channels, m.image_size).dump(2) + "\n");
    // The tokenizer: Hugging Face's files as they are; layerwise's own under its own name.
    for (const auto& name : data::hf_tokenizer_files(data.tokenizer))
      if (file_exists(files.file(name)))
        write_file_atomic(folder + "/" + name, read_file(files.file(name)));
    const bool own =
        data.tokenizer == data::TokenizerKind::bpe || data.tokenizer == data::TokenizerKind::byte;
    if (own && file_exists(files.tokenizer()))
      write_file_atomic(folder + "/layerwise_tokenizer.json", read_file(files.tokenizer()));
    write_file_atomic(RunDir(folder).export_info(),
                      export_info(run, run_dir, result).dump(2) + "\n");
  };
  model::export_hf(model, out_dir, options);
}

// A layerwise run folder of `model`: what eval, similarity, exit, report and train --init read.
void export_run_folder(const train::LoadedRun& run, model::LayeredModel& model,
                       const std::string& run_dir, const std::string& out_dir,
                       const ExportResult& result) {
  StagedFolder folder(out_dir);  // the run appears whole or not at all
  const RunDir files(folder.path());
  auto config = run.config;
  config.model = model.config();
  if (config.train.layer_weighting == train::LayerWeighting::custom)  // one per layer kept
    config.train.layer_weights.resize(size_t(result.depth));
  train::write_run_config(folder.path(), config);
  model::save_weights(files.model(), model, {{"step", std::to_string(run.state.step)}});
  files.write_state({run.state.step, run.state.step, run.state.seconds});  // nothing left to train
  train::copy_tokenizer_files(run_dir, folder.path());
  write_file_atomic(files.export_info(), export_info(run, run_dir, result).dump(2) + "\n");
  folder.commit();
}

}  // namespace

std::vector<std::string> import_run(const std::string& hf_dir, const std::string& run_dir,
                                    ImportOptions options) {
  StagedFolder folder(run_dir);  // the run appears whole or not at all
  const auto& partial = folder.path();
  const RunDir run_files(partial);
  Progress progress(options.quiet);
  progress.message(str_cat("importing ", hf_dir));
  auto imported = model::import_hf(hf_dir);
  const auto& m = imported.model->config();
  train::RunConfig run;
  run.model = m;
  run.train.objective = train::Objective::standard;
  // The data: the model's kind of dataset unless the settings name one, then the settings.
  run.data.dataset = m.is_text() ? data::Dataset::spam_assassin : data::Dataset::fashion_mnist;
  fields_from_json(run.data, options.data, "data");
  data::validate(run.data);
  LW_CHECK(m.is_text() == run.data.is_text(), "import: a ", m.arch, " cannot read dataset ",
           run.data.dataset);

  if (m.is_text())
    fit_text_data(hf_dir, partial, m, imported.hf.family, run.data);
  else
    fit_image_data(hf_dir, m, run.data);
  const auto task = data::load_task(run.data, partial);  // images: measures mean, std if unset
  LW_CHECK(run.data.task == data::Task::lm || task.n_classes <= m.n_classes, hf_dir, " has ",
           m.n_classes, " classes, dataset ", run.data.dataset, " ", task.n_classes,
           ": fine-tune it with train --init ", hf_dir, " (a fresh classifier for the task)");
  train::write_run_config(partial, run);
  model::save_weights(run_files.model(), *imported.model, {{"step", "0"}});
  run_files.write_state({});  // nothing trained here: 0 of 0 steps, finished
  const nlohmann::json info = {{"source", fs::absolute(hf_dir).string()},
                               {"architecture", imported.hf.architecture},
                               {"model_type", model::to_string(imported.hf.family)},
                               {"class_names", imported.hf.class_names},
                               {"notes", imported.notes}};
  write_file_atomic(run_files.import_info(), info.dump(2) + "\n");
  folder.commit();
  for (const auto& note : imported.notes) progress.message(note);
  return imported.notes;
}

ExportResult export_run(const std::string& run_dir, const std::string& out_dir,
                        const ExportOptions& options) {
  const auto config = train::read_run_config(run_dir);
  const int64_t layers = config.model.n_layers, depth = options.depth.value_or(layers);
  LW_CHECK(depth >= 1 && depth <= layers, "export: --depth ", depth, " is outside 1..", layers,
           " (", run_dir, " has ", layers, " layers)");  // before anything is written
  auto run = train::load_run(run_dir, torch::kCPU);
  const auto cut = depth == layers ? run.model : model::truncate_model(*run.model, depth);
  ExportResult result;
  result.depth = depth;
  result.source_layers = layers;
  result.parameters = model::depth_parameters(config.model, depth);
  result.flops =
      model::forward_flops(config.model, depth, train::run_sample_tokens(config)).total();
  try {
    model::hf_family_for_export(cut->config());
    result.hugging_face = true;
  } catch (const Error& e) {  // no transformers layout: a layerwise run folder instead
    const std::string why = e.what(), prefix = "export: ";
    result.why_not_hf = why.rfind(prefix, 0) == 0 ? why.substr(prefix.size()) : why;
  }
  Progress progress(options.quiet);
  progress.message(str_cat("exporting layers 1..", depth, " of ", layers, " of ", run_dir, " as ",
                           result.hugging_face
                               ? "a Hugging Face checkpoint"
                               : "a layerwise run folder (" + result.why_not_hf + ")"));
  if (result.hugging_face)
    export_hf_folder(run, *cut, run_dir, out_dir, result);
  else
    export_run_folder(run, *cut, run_dir, out_dir, result);
  return result;
}

}  // namespace layerwise::workflow
