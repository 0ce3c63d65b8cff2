#include "layerwise/train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iomanip>
#include <sstream>

#include "layerwise/analysis/layer_readout.h"
#include "layerwise/core/atomic_file.h"
#include "layerwise/core/compat.h"
#include "layerwise/core/crash_point.h"
#include "layerwise/core/error.h"
#include "layerwise/core/matrix_io.h"
#include "layerwise/core/progress.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/core/staged_folder.h"
#include "layerwise/data/augment.h"
#include "layerwise/data/image_dataset.h"
#include "layerwise/inference/predict.h"
#include "layerwise/model/layered_model.h"
#include "layerwise/train/checkpoint.h"
#include "layerwise/train/optimizer.h"
#include "layerwise/train/pretrained.h"
#include "layerwise/train/train_step.h"

namespace layerwise::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Per-step numbers kept on the device until the next flush (one host sync per flush).
struct PendingStep {
  int64_t step, epoch;
  double lr;
  torch::Tensor loss, layer_loss, correct, items, grad_norm, distill;  // (), (L), (), (), (), ()
};

// metrics.jsonl, appended one line at a time; on resume, lines past the checkpoint are dropped.
class MetricsLog {
 public:
  MetricsLog(const std::string& path, int64_t keep_up_to_step) {
    std::string kept;
    if (keep_up_to_step > 0 && file_exists(path)) {
      std::istringstream lines(read_file(path));
      for (std::string line; std::getline(lines, line);) {
        if (line.empty()) continue;
        const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        // A line whose step is not an integer (damaged by hand) is dropped with the later ones.
        const auto step = j.is_object() ? j.find("step") : j.end();
        const bool before =
            step != j.end() && step->is_number_integer() &&
            (step->is_number_unsigned() ? step->get<uint64_t>() <= uint64_t(keep_up_to_step)
                                        : step->get<int64_t>() <= keep_up_to_step);
        if (before) kept += line + "\n";
      }
    }
    write_file_atomic(path, kept);
    out_.open(path, std::ios::app);
    LW_CHECK(out_, "cannot append to '", path, "'");
  }
  void write(const nlohmann::json& line) {
    out_ << line.dump() << "\n";
    out_.flush();
  }

 private:
  std::ofstream out_;
};

// A new run's model takes its classes (a decoder: its vocabulary) and, unless it starts from a
// pretrained model, its vocabulary from the data; every model must suit its task. A resumed run
// keeps what it was built with (older runs may hold more classes than their data).
void fit_model_to_data(model::ModelConfig& m, const data::DataConfig& d, Augment augment,
                       const data::TaskData& task, bool pretrained, bool resuming) {
  LW_CHECK(
      m.is_text() == d.is_text(), "model ", m.arch, " cannot read dataset ", d.dataset,
      m.is_text() ? ": use spam-assassin, jsonl or text" : ": use fashion-mnist, idx or folder");
  const bool lm = d.task == data::Task::lm;
  if (m.is_text()) {
    LW_CHECK(augment == Augment::none, "train.augment ", augment,
             " is for images; text takes train.augment none");
    LW_CHECK((m.arch == model::Arch::text_decoder) == lm, "a ", m.arch, " cannot learn task ",
             d.task, ": text_encoder classifies, text_decoder does lm");
    LW_CHECK(d.max_len <= m.max_len, "data.max_len ", d.max_len, " exceeds the model's ",
             m.max_len);
    LW_CHECK(!pretrained || task.vocab_size <= m.vocab_size, "the tokenizer has ", task.vocab_size,
             " ids, the pretrained model's vocabulary ", m.vocab_size);
    if (!pretrained) m.vocab_size = task.vocab_size;  // a checkpoint's may be padded
  }
  if (!m.is_text()) {  // a new model takes the images' shape; a pretrained one must read them
    const auto& shape = task.input_shape;  // (C, H, W)
    LW_CHECK(shape[1] == shape[2], "a ViT reads square images; the data gives ", shape[1], " x ",
             shape[2], " (make them square with data.resize h,w or data.crop)");
    if (!pretrained && !resuming) {
      m.in_channels = shape[0];
      m.image_size = shape[1];
    }
    LW_CHECK(m.in_channels == shape[0] && m.image_size == shape[1], "the model reads ",
             m.in_channels, " x ", m.image_size, " x ", m.image_size, " images; the data gives ",
             shape[0], " x ", shape[1], " x ", shape[2], " (data.resize, data.crop and ",
             "data.channels set the size)");
  }
  const int64_t classes = lm ? m.vocab_size : task.n_classes;
  if (!resuming) m.n_classes = classes;
  LW_CHECK(classes <= m.n_classes, "the data has ", classes, " classes, the model ", m.n_classes);
  model::validate(m);
}

class Trainer {
 public:
  Trainer(RunConfig config, std::string run_dir, const TrainOptions& options, bool resuming)
      : config_(std::move(config)),
        run_dir_(std::move(run_dir)),
        options_(options),
        device_(compat::parse_device(config_.train.device)),
        bf16_(config_.train.bf16 && device_.is_cuda()),
        comm_(options.comm),
        progress_(options.quiet || !is_main()) {
    const auto& t = config_.train;
    validate(t);
    progress_.message(str_cat("loading ", config_.data.dataset,
                              config_.data.is_text() ? " (and its tokenizer)" : ""));
    task_ = data::load_task(config_.data, run_dir_.path(), options_.quiet || !is_main());
    fit_model_to_data(config_.model, config_.data, t.augment, task_, !t.init.empty(), resuming);
    torch::manual_seed(t.seed);
    model_ = model::make_model(config_.model);
    if (!t.init.empty() && !resuming) start_from_pretrained();  // resume: the checkpoint
    model_->to(device_);
    // Model-ready inputs live on the device for the whole run; stored images are made
    // model-ready one batch at a time.
    train_x_ = task_.train.inputs.per_batch()
                   ? task_.train.inputs
                   : data::Inputs(task_.train.inputs.tensor().to(device_));
    train_y_ = task_.train.labels.to(device_);
    step_settings_ = step_settings(t, config_.model.n_layers, device_);
    step_settings_.comm = comm_;
    steps_per_epoch_ = (train_x_.size() + t.batch_size - 1) / t.batch_size;
    if (comm_) check_batches_divide(train_x_.size());
    state_.total_steps = steps_per_epoch_ * t.epochs;
    warmup_steps_ = int64_t(t.warmup_epochs * double(steps_per_epoch_));
    optimizer_ = std::make_unique<AdamW>(named_parameters(*model_), adamw_config(t),
                                         objective_parameters(step_settings_));
    if (!config_.data.is_text()) {  // black, normalized (the first channel's, if they differ)
      const auto& d = config_.data;
      fill_ = d.channel_std.empty() ? -d.mean / d.std : -d.channel_mean.at(0) / d.channel_std.at(0);
    }
  }

  const RunConfig& config() const { return config_; }
  bool is_main() const { return !comm_ || comm_->is_main(); }

  // Every rank starts from rank 0's weights (the same seed gives the same ones; a pretrained
  // model read by each rank too, but one copy is the rule data parallelism needs).
  void share_rank0_weights() {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> tensors;
    for (const auto& p : model_->parameters()) tensors.push_back(p.data());
    for (const auto& b : model_->buffers()) tensors.push_back(b);
    comm_->broadcast(tensors, 0);
  }

  // Each rank needs at least one sample of every global batch, the last short one included.
  void check_batches_divide(int64_t samples) const {
    const int64_t batch = config_.train.batch_size, last = samples % batch;
    const int world = comm_->world_size();
    LW_CHECK(batch >= world && (last == 0 || last >= world), "train.batch_size ", batch, " on ",
             samples, " samples leaves a batch of ", last == 0 || batch < world ? batch : last,
             " for ", world, " ranks: every rank needs at least one sample of each batch");
  }

  // Pretrained weights for a run started with --init (on resume the checkpoint replaces them).
  void start_from_pretrained() {
    const auto& t = config_.train;
    progress_.message(str_cat("initializing from ", t.init));
    auto pretrained = load_pretrained(t.init);
    for (const auto& note : pretrained.notes) progress_.message(note);
    const auto note = copy_pretrained(*pretrained.model, *model_, t.fresh_head);
    if (!note.empty()) progress_.message(note);
  }

  // The newest complete checkpoint, checked against what the configuration and the data give.
  void restore() {
    if (is_main()) run_dir_.remove_stale_temporaries();
    const auto planned = state_.total_steps;
    if (!has_checkpoint(run_dir_)) {  // stopped before its first one: the run starts again
      progress_.message(str_cat(run_dir_.path(), " has no checkpoint yet: starting at step 0"));
      if (!config_.train.init.empty()) start_from_pretrained();
      return;
    }
    const auto restored = load_checkpoint(run_dir_, *model_, *optimizer_);
    state_ = restored.state;
    LW_CHECK(state_.total_steps == planned && state_.step <= planned, restored.source,
             ": the checkpoint is at step ", state_.step, " of ", state_.total_steps,
             " but config.json and the data give ", planned, " steps (", config_.train.epochs,
             " epochs of ", steps_per_epoch_, " batches of ", config_.train.batch_size,
             "); the configuration or the data changed since the run started; cannot resume");
    progress_.message(str_cat("resuming from ", restored.source, " (step ", state_.step, " of ",
                              state_.total_steps, ")"));
  }

  TrainSummary run() {
    const auto& t = config_.train;
    // Rank 0 alone writes the run folder (log, validation, checkpoints).
    std::unique_ptr<MetricsLog> log;
    if (is_main()) log = std::make_unique<MetricsLog>(run_dir_.metrics(), state_.step);
    const auto start = Clock::now();
    const double seconds_before = state_.seconds;
    const int64_t first_step = state_.step;
    if (comm_) share_rank0_weights();  // the first collective of every rank, in the same order
    TrainSummary summary;
    progress_.message(str_cat("training ", t.objective, " ", config_.model.n_layers, "-layer ",
                              config_.model.arch, " (", model::count_parameters(*model_),
                              " parameters) on ", train_x_.size(), " samples, ", device_.str(),
                              bf16_ ? " bf16" : "", ": ", state_.total_steps, " steps, from step ",
                              state_.step));
    model_->train();
    TrainStep train_step(*model_, *optimizer_, step_settings_);
    std::vector<torch::Tensor> batches, host_batches;  // on the device; on the CPU (prefetch)
    data::AugmentPlan plan;
    int64_t loaded_epoch = -1;
    std::vector<PendingStep> pending;
    auto flush_clock = Clock::now();
    int64_t flush_samples = 0;
    double samples_per_second = 0;
    while (state_.step < state_.total_steps) {
      const int64_t step = state_.step, epoch = step / steps_per_epoch_;
      const int64_t batch_in_epoch = step % steps_per_epoch_;
      if (epoch != loaded_epoch) {
        host_batches = data::shuffled_batches(torch::arange(train_x_.size(), torch::kInt64),
                                              t.batch_size, t.seed, epoch);
        batches.clear();
        for (const auto& b : host_batches) batches.push_back(b.to(device_));
        if (t.augment != Augment::none) {
          plan = data::plan_augmentation(train_x_.size(), t.seed, epoch);
          if (t.augment == Augment::flip) plan.shifts.fill_(data::kMaxShift);  // centred: no shift
          plan.shifts = plan.shifts.to(device_);
          plan.flips = plan.flips.to(device_);
        }
        loaded_epoch = epoch;
      }
      // (B) of the global batch, or this rank's share of it: (about B / ranks)
      const auto rank_share = [&](const std::vector<torch::Tensor>& all, int64_t b) {
        return comm_ ? all[b].tensor_split(comm_->world_size())[comm_->rank()] : all[b];
      };
      const auto index = rank_share(batches, batch_in_epoch);
      auto x = batch_inputs(step, index);                // (B, C, H, W)
      if (batch_in_epoch + 1 < int64_t(batches.size()))  // the CPU copy: no wait on the device
        prefetch_inputs(step + 1, rank_share(host_batches, batch_in_epoch + 1));
      const auto y = train_y_.index_select(0, index);
      if (t.augment != Augment::none)
        x = data::augment_images(x, plan.shifts.index_select(0, index),
                                 plan.flips.index_select(0, index), fill_);

      const double lr = warmup_cosine_lr(step, state_.total_steps, warmup_steps_, t.lr, t.min_lr);
      const auto out = train_step.run(x, y, lr);
      crash_point("train-step");  // tests: a worker that dies mid-run
      pending.push_back({step + 1, epoch, lr, out.loss, out.layer_loss, out.correct, out.items,
                         out.grad_norm, out.distill});
      state_.step = step + 1;
      flush_samples += batches[batch_in_epoch].size(0);

      const bool epoch_end = state_.step % steps_per_epoch_ == 0;
      const bool stop = options_.stop_after_steps > 0 && state_.step >= options_.stop_after_steps;
      const bool last = state_.finished();
      const bool validate_now =
          (t.eval_every > 0 ? state_.step % t.eval_every == 0 : epoch_end) || last;
      const bool checkpoint_now =
          (t.checkpoint_every > 0 ? state_.step % t.checkpoint_every == 0 : epoch_end) || last ||
          stop;
      if (int64_t(pending.size()) >= t.log_every || validate_now || checkpoint_now) {
        samples_per_second = double(flush_samples) / std::max(1e-9, seconds_since(flush_clock));
        flush(pending, log.get(), samples_per_second);
        flush_clock = Clock::now();
        flush_samples = 0;
      }
      if (validate_now && log) summary.val_accuracy = run_validation(*log, epoch);
      if (checkpoint_now && is_main()) {
        state_.seconds = seconds_before + seconds_since(start);
        save_checkpoint(run_dir_, *model_, *optimizer_, state_, t.keep_checkpoints);
      }
      if (stop) break;
    }
    if (!train_step.graph_failure().empty())
      progress_.message(
          str_cat("CUDA graph capture failed, steps ran eagerly: ", train_step.graph_failure()));
    if (train_step.uses_graphs())
      progress_.message(str_cat(train_step.replayed_steps(), " of ", state_.step - first_step,
                                " steps replayed from CUDA graphs"));
    summary.step = state_.step;
    summary.total_steps = state_.total_steps;
    summary.seconds = seconds_since(start);
    summary.samples_per_second =
        double((state_.step - first_step) * t.batch_size) / std::max(1e-9, summary.seconds);
    progress_.message(str_cat(state_.finished() ? "finished" : "stopped", " at step ", state_.step,
                              "/", state_.total_steps, " after ", format_duration(summary.seconds),
                              "; checkpoint in ", run_dir_.path()));
    return summary;
  }

 private:
  // Writes the pending steps to the log (rank 0; the others pass none) and the progress line.
  void flush(std::vector<PendingStep>& pending, MetricsLog* log, double samples_per_second) {
    if (pending.empty()) return;
    std::vector<torch::Tensor> scalars, layer_losses;
    for (const auto& p : pending) {
      scalars.push_back(
          torch::stack({p.loss.to(torch::kFloat32), p.correct.to(torch::kFloat32),
                        p.grad_norm.to(torch::kFloat32), p.items.to(torch::kFloat32).clamp_min(1),
                        p.distill.to(torch::kFloat32)}));
      layer_losses.push_back(p.layer_loss.to(torch::kFloat32));
    }
    const auto host_scalars = torch::stack(scalars).cpu();      // (S, 5): the one sync
    const auto host_layers = torch::stack(layer_losses).cpu();  // (S, L)
    for (size_t i = 0; i < pending.size(); ++i) {
      const auto& p = pending[i];
      const double loss = host_scalars[i][0].item<double>();
      LW_CHECK(std::isfinite(loss), "training diverged: loss is ", loss, " at step ", p.step,
               "; lower train.lr or raise train.warmup_epochs");
      nlohmann::json line = {
          {"step", p.step},
          {"epoch", p.epoch},
          {"lr", p.lr},
          {"loss", loss},
          {"accuracy", host_scalars[i][1].item<double>() / host_scalars[i][3].item<double>()},
          {"grad_norm", host_scalars[i][2].item<double>()},
          {"samples_per_second", samples_per_second}};
      if (config_.train.objective != Objective::standard)
        line["layer_loss"] = vector_to_json(host_layers[i]);
      if (config_.train.distill > 0) line["distill"] = host_scalars[i][4].item<double>();
      if (log) log->write(line);
    }
    const auto& p = pending.back();
    const double remaining = double(state_.total_steps - p.step) *
                             double(config_.train.batch_size) / std::max(1e-9, samples_per_second);
    char line[200];
    std::snprintf(line, sizeof line,
                  "epoch %lld/%lld  step %lld/%lld  loss %.4f  acc %.3f  lr %.2e  %.0f samples/s  "
                  "left %s",
                  (long long)(p.epoch + 1), (long long)config_.train.epochs, (long long)p.step,
                  (long long)state_.total_steps, host_scalars[pending.size() - 1][0].item<double>(),
                  host_scalars[pending.size() - 1][1].item<double>() /
                      host_scalars[pending.size() - 1][3].item<double>(),
                  p.lr, samples_per_second, format_duration(remaining).c_str());
    progress_.update(line);
    pending.clear();
  }

  std::vector<double> run_validation(MetricsLog& log, int64_t epoch) {
    if (task_.val.labels.numel() == 0) return {};
    inference::InferenceOptions options;
    options.batch_size = config_.train.eval_batch_size;
    options.device = device_;
    options.bf16 = bf16_;
    const auto heads = config_.train.objective == Objective::multihead
                           ? inference::HeadChoice::own
                           : inference::HeadChoice::last;
    const auto p =
        inference::predict_layers(*model_, task_.val.inputs, task_.val.labels, heads, options);
    const auto accuracy = vector_to_json(analysis::layer_accuracy(p));
    nlohmann::json line = {{"step", state_.step},
                           {"epoch", epoch},
                           {"val_accuracy", accuracy},
                           {"val_loss", vector_to_json(p.loss.mean(1))}};
    if (step_settings_.layer_weights.is_learned())  // where the learned schedule stands
      line["layer_weights"] = vector_to_json(step_settings_.layer_weights.current().cpu());
    log.write(line);
    std::ostringstream layers;
    for (const auto& a : accuracy)
      layers << " " << std::fixed << std::setprecision(1) << 100 * a.get<double>();
    progress_.message(
        str_cat("step ", state_.step, " validation accuracy by layer (%):", layers.str()));
    model_->train();
    return accuracy.get<std::vector<double>>();
  }

  RunConfig config_;
  RunDir run_dir_;
  TrainOptions options_;
  torch::Device device_;
  bool bf16_;
  distributed::Communicator* comm_;  // several ranks, or null
  Progress progress_;
  model::ModelPtr model_;
  data::TaskData task_;
  data::Inputs train_x_;
  torch::Tensor train_y_;
  StepSettings step_settings_;
  std::unique_ptr<AdamW> optimizer_;
  int64_t steps_per_epoch_ = 0, warmup_steps_ = 0;
  double fill_ = 0;
  // Stored images: the next step's batch, made on a thread while this step runs.
  std::future<torch::Tensor> prefetched_;
  int64_t prefetched_step_ = -1;

  torch::Tensor batch_inputs(int64_t step, const torch::Tensor& index) {
    if (prefetched_.valid() && prefetched_step_ == step) return prefetched_.get();
    if (prefetched_.valid()) prefetched_.wait();  // stale (an epoch boundary): not used
    return train_x_.gather(index, device_);
  }

  void prefetch_inputs(int64_t step, const torch::Tensor& index) {
    if (!train_x_.per_batch()) return;  // already on the device
    prefetched_step_ = step;
    prefetched_ =
        std::async(std::launch::async, [this, index] { return train_x_.gather(index, device_); });
  }
  TrainerState state_;
};

}  // namespace

TrainSummary train_new_run(RunConfig config, const std::string& run_dir,
                           const TrainOptions& options) {
  auto* comm = options.comm;
  if (comm && !comm->is_main()) {  // rank 0 creates the folder (and a text run's tokenizer)
    comm->barrier();
    config.model.heads = head_mode_for(config.train.objective);
    Trainer trainer(std::move(config), run_dir, options, /*resuming=*/false);
    return trainer.run();
  }
  LW_CHECK(!RunDir(run_dir).has_config(), "'", run_dir,
           "' already holds a run; continue it with --resume or choose another --out");
  config.model.heads = head_mode_for(config.train.objective);
  if (!config.model.is_text()) model::validate(config.model);  // text: once the vocabulary is known
  validate(config.train);
  std::error_code error;
  const bool created = !std::filesystem::exists(run_dir, error);
  make_directories(run_dir);
  std::unique_ptr<Trainer> trainer;
  try {
    // A text run started from a model keeps its tokenizer, hence its vocabulary.
    if (!config.train.init.empty() && config.model.is_text())
      copy_tokenizer_files(config.train.init, run_dir);
    // loads the data, measures normalization
    trainer = std::make_unique<Trainer>(std::move(config), run_dir, options, /*resuming=*/false);
    write_run_config(run_dir, trainer->config());
  } catch (...) {
    if (created) remove_folder(run_dir);  // a run that never started leaves no folder
    throw;
  }
  if (comm) comm->barrier();  // the others may read the folder now
  return trainer->run();
}

TrainSummary resume_run(const std::string& run_dir, const std::string& device,
                        const TrainOptions& options) {
  auto config = read_run_config(run_dir);
  if (!device.empty()) config.train.device = device;
  Trainer trainer(std::move(config), run_dir, options, /*resuming=*/true);
  trainer.restore();
  return trainer.run();
}

}  // namespace layerwise::train
