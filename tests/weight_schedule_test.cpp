// The aligned objective's layer-weight schedules and its self-distillation term
// (train/objective.h): weights by hand, sums and orders, the KL term on a hand-computed case, and
// the settings' round trip through config.json and the CLI.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "layerwise/model/layered_model.h"
#include "layerwise/train/objective.h"
#include "layerwise/train/optimizer.h"
#include "layerwise/train/run_config.h"
#include "test_util.h"

namespace lm = layerwise::model;
namespace lt = layerwise::train;
using layerwise::testing::contains;
using layerwise::testing::error_message;
using layerwise::testing::read_json;
using layerwise::testing::run_cli;
using layerwise::testing::temp_dir;

namespace {

std::vector<double> weights_of(lt::LayerWeighting scheme, int64_t layers, double rate = 1,
                               double boost = 1) {
  lt::WeightSchedule s;
  s.scheme = scheme;
  s.rate = rate;
  s.last_boost = boost;
  return lt::layer_weights(s, layers);
}

void expect_near(const std::vector<double>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-12) << i;
}

}  // namespace

TEST(WeightSchedule, EverySchemeByHandSumsToOneInItsOrder) {
  using lt::LayerWeighting;
  const double s = 1 + std::sqrt(2.0) + std::sqrt(3.0);
  expect_near(weights_of(LayerWeighting::sqrt, 3), {1 / s, std::sqrt(2.0) / s, std::sqrt(3.0) / s});
  // exp(rate l / L) with rate = 3 ln 2, L = 3: each layer twice the one before.
  expect_near(weights_of(LayerWeighting::exponential, 3, 3 * std::log(2.0)),
              {1.0 / 7, 2.0 / 7, 4.0 / 7});
  expect_near(weights_of(LayerWeighting::exponential, 4, 0), {0.25, 0.25, 0.25, 0.25});
  for (const auto scheme : {LayerWeighting::linear, LayerWeighting::uniform, LayerWeighting::sqrt,
                            LayerWeighting::exponential}) {
    for (const double rate : {-4.0, 2.0}) {
      const auto w = weights_of(scheme, 12, rate);
      double sum = 0;
      for (double x : w) sum += x;
      EXPECT_NEAR(sum, 1.0, 1e-12) << layerwise::enum_name(scheme);
      for (size_t l = 1; l < w.size(); ++l) {
        if (scheme != LayerWeighting::exponential)
          EXPECT_GE(w[l], w[l - 1]);  // deeper layers weigh at least as much
        else if (rate > 0)
          EXPECT_GT(w[l], w[l - 1]);
        else
          EXPECT_LT(w[l], w[l - 1]);  // a negative rate favours the shallow layers
      }
    }
  }
  // sqrt is flatter than linear: its first layer weighs more, its last less.
  const auto sqrt12 = weights_of(LayerWeighting::sqrt, 12),
             linear12 = weights_of(LayerWeighting::linear, 12);
  EXPECT_GT(sqrt12.front(), linear12.front());
  EXPECT_LT(sqrt12.back(), linear12.back());
}

TEST(WeightSchedule, LastLayerBoostKeepsTheSum) {
  using lt::LayerWeighting;
  expect_near(weights_of(LayerWeighting::linear, 2, 1, 2), {0.2, 0.8});  // {1/3, 4/3} / (5/3)
  lt::WeightSchedule custom;
  custom.scheme = LayerWeighting::custom;
  custom.custom = {1, 1};
  custom.last_boost = 3;
  expect_near(lt::layer_weights(custom, 2), {0.5, 1.5});  // a custom total (2) is kept
  EXPECT_PRED2(contains, error_message([] { weights_of(LayerWeighting::linear, 3, 1, 0); }),
               "train.last_weight_boost must be > 0");
  EXPECT_PRED2(contains, error_message([] { weights_of(LayerWeighting::exponential, 3, 51); }),
               "train.weight_rate must be in [-50, 50]");
  lt::WeightSchedule stray;
  stray.custom = {1, 2, 3};  // weights given to a named scheme
  EXPECT_PRED2(contains, error_message([&] { lt::layer_weights(stray, 3); }),
               "train.layer_weights are given but train.layer_weighting is linear");
}

TEST(WeightSchedule, LearnedWeightingByHandWithItsGradient) {
  // (1/L) sum_l exp(-s_l) CE_l + s_l with L = 3, s = (0, ln 2, -ln 2), CE = (2, 1, 0.5).
  auto weights = lt::LayerLossWeights::learned(3, torch::kCPU);
  EXPECT_TRUE(weights.is_learned());
  EXPECT_EQ(weights.size(), 3);
  EXPECT_TRUE(weights.current().allclose(torch::full({3}, 1.0 / 3)));  // it starts uniform
  {
    torch::NoGradGuard no_grad;
    weights.log_variance.copy_(torch::tensor({0.0, std::log(2.0), -std::log(2.0)}));
  }
  const auto ce = torch::tensor({2.0, 1.0, 0.5}, torch::kFloat32).requires_grad_();
  const auto loss = weights.weigh(ce);
  // (2 + 0 + 0.5 + ln 2 + 1 - ln 2) / 3
  EXPECT_NEAR(loss.item<double>(), 3.5 / 3, 1e-6);
  loss.backward();
  // d/ds_l = (1 - exp(-s_l) CE_l) / L: s_1 pushed up (its CE is high), s_3 down.
  const auto grad_s = weights.log_variance.grad();
  EXPECT_NEAR(grad_s[0].item<double>(), (1 - 2.0) / 3, 1e-6);
  EXPECT_NEAR(grad_s[1].item<double>(), (1 - 0.5) / 3, 1e-6);
  EXPECT_NEAR(grad_s[2].item<double>(), (1 - 1.0) / 3, 1e-6);
  // d/dCE_l = exp(-s_l) / L: the layer weights the model's gradient sees.
  EXPECT_TRUE(ce.grad().allclose(torch::tensor({1.0, 0.5, 2.0}, torch::kFloat32) / 3, 1e-6));
  // Its weights: softmax(-s), summing to 1.
  EXPECT_TRUE(weights.current().allclose(torch::tensor({1.0, 0.5, 2.0}, torch::kFloat32) / 3.5));
  // Fixed weights: a plain weighted sum; no gradient to the weights.
  const lt::LayerLossWeights fixed = torch::tensor({0.25f, 0.75f});
  EXPECT_FALSE(fixed.is_learned());
  EXPECT_NEAR(fixed.weigh(torch::tensor({2.0f, 4.0f})).item<double>(), 3.5, 1e-6);
}

TEST(WeightSchedule, LearnedWeightsTrainAreSavedAndResumeExactly) {
  const auto dir = temp_dir("learned_weights");
  const std::string train =
      "-q train --preset tiny --layers 3 --train-limit 128 --val-limit 32 --epochs 2 "
      "--batch-size 32 --layer-weights learned --lr 5e-2 --out ";
  auto r = run_cli(train + dir + "/whole");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(read_json(dir + "/whole/config.json").at("train").at("layer_weighting"), "learned");
  // The validation lines carry softmax(-s); after 8 steps at lr 0.05 the weights have moved.
  std::ifstream metrics(dir + "/whole/metrics.jsonl");
  std::vector<double> last;
  for (std::string line; std::getline(metrics, line);) {
    const auto m = nlohmann::json::parse(line);
    if (m.contains("val_accuracy")) last = m.at("layer_weights").get<std::vector<double>>();
  }
  ASSERT_EQ(last.size(), 3u);
  double sum = 0;
  for (double w : last) sum += w;
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_GT(std::abs(last[0] - 1.0 / 3) + std::abs(last[2] - 1.0 / 3), 1e-3);
  // The log variances live in optimizer.safetensors (no model file holds them); a run stopped
  // after 5 steps and resumed ends where the uninterrupted one did, the learned s included.
  r = run_cli(train + dir + "/split --stop-after 5");
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_cli("-q train --resume " + dir + "/split");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto whole = layerwise::read_safetensors(dir + "/whole/optimizer.safetensors");
  const auto split = layerwise::read_safetensors(dir + "/split/optimizer.safetensors");
  auto value = [](const layerwise::SafetensorsFile& f) {
    for (const auto& [name, t] : f.tensors)
      if (name == "value.objective.layer_log_variance") return t;
    return torch::Tensor();
  };
  ASSERT_TRUE(value(whole).defined());
  EXPECT_GT(value(whole).abs().max().item<double>(), 1e-3);
  EXPECT_TRUE(value(whole).equal(value(split)));
  EXPECT_LT(layerwise::testing::max_weight_diff(dir + "/whole", dir + "/split"), 1e-12);
  // The last layer's boost has no meaning for a learned schedule.
  r = run_cli(train + dir + "/bad --last-weight-boost 2");
  EXPECT_NE(r.code, 0);
  EXPECT_PRED2(contains, r.output, "does not apply to learned layer weights");
  layerwise::testing::remove_tree(dir);
}

TEST(WeightSchedule, LearnedWeightsStepAtTheirOwnLearningRateWithoutDecay) {
  // One AdamW step moves every coordinate by lr (the first step's update is lr * sign(grad)); the
  // `own` log variances move by lr x own_lr_scale and, being a vector, get no weight decay.
  auto model_weight = torch::ones({2, 2}).requires_grad_();
  auto log_variance = torch::zeros({3}).requires_grad_();
  lt::AdamWConfig config;
  config.weight_decay = 0;
  config.own_lr_scale = 10;
  lt::AdamW adamw({{"w", model_weight}}, config, {{"objective.layer_log_variance", log_variance}});
  (model_weight.sum() + log_variance.sum()).backward();
  adamw.step(1e-3);
  EXPECT_TRUE(model_weight.allclose(torch::full({2, 2}, 1 - 1e-3), 1e-6));
  EXPECT_TRUE(log_variance.allclose(torch::full({3}, -1e-2), 1e-6));
  // Its value travels with the moments (checkpoints), and comes back from them.
  const auto state = adamw.state();
  ASSERT_EQ(state.size(), 5u);
  EXPECT_EQ(state.back().first, "value.objective.layer_log_variance");
  {
    torch::NoGradGuard no_grad;
    log_variance.zero_();
  }
  adamw.load_state(state, 1);
  EXPECT_TRUE(log_variance.allclose(torch::full({3}, -1e-2), 1e-6));
}

TEST(Distillation, KlTermByHandIgnoresUnlabelledItemsAndHoldsTheTeacherFixed) {
  // Two layers, two items (the second unlabelled), two classes. Item 1: layer 1 reads [0, 0],
  // layer 2 (the teacher) [ln 3, 0], i.e. p_L = [3/4, 1/4] and p_1 = [1/2, 1/2].
  auto logits = torch::tensor({{{0.0, 0.0}, {5.0, -2.0}}, {{std::log(3.0), 0.0}, {0.0, 7.0}}},
                              torch::kFloat64)
                    .requires_grad_();  // (L, N, C)
  const auto targets = torch::tensor({int64_t{1}, lt::kIgnoreLabel}, torch::kInt64);
  const auto term = lt::distillation_term(logits, targets, 1.0);
  EXPECT_NEAR(term.item<double>(), 0.75 * std::log(1.5) + 0.25 * std::log(0.5), 1e-6);
  // T = 2: both distributions from logits / 2, and the T^2 factor.
  const double a = std::sqrt(3.0) / (std::sqrt(3.0) + 1), b = 1 - a;
  EXPECT_NEAR(lt::distillation_term(logits, targets, 2.0).item<double>(),
              4 * (a * std::log(2 * a) + b * std::log(2 * b)), 1e-6);
  term.backward();
  const auto grad = logits.grad();
  EXPECT_EQ(grad[1].abs().max().item<double>(), 0.0);     // the teacher is detached
  EXPECT_EQ(grad[0][1].abs().max().item<double>(), 0.0);  // the unlabelled item counts for nothing
  EXPECT_GT(grad[0][0].abs().max().item<double>(), 0.0);
  // One layer: nothing to distil.
  EXPECT_EQ(lt::distillation_term(logits.slice(0, 1), targets, 1.0).item<double>(), 0.0);
}

TEST(Distillation, AddsItsWeightedTermToTheAlignedAndMultiheadLosses) {
  torch::manual_seed(0);
  auto config = lm::vit_preset("tiny");
  config.n_layers = 3;
  const auto images = torch::randn({6, 1, 28, 28});
  const auto labels = torch::tensor({0, 3, 9, 3, 1, 7}, torch::kInt64);
  const auto w = torch::tensor(lt::layer_weights(lt::LayerWeighting::linear, 3), torch::kFloat64)
                     .to(torch::kFloat32);
  for (const auto objective : {lt::Objective::aligned, lt::Objective::multihead}) {
    config.heads = lt::head_mode_for(objective);
    auto model = lm::make_model(config);
    model->eval();  // no dropout: the two calls see the same model
    const auto plain = lt::objective_loss(*model, objective, w, images, labels);
    const auto distilled = lt::objective_loss(*model, objective, w, images, labels, 0, {0.5, 2.0});
    // The term by hand from the layers' logits.
    const auto hidden = model->forward_layers(images);
    std::vector<torch::Tensor> logits;
    for (int64_t l = 1; l <= 3; ++l) logits.push_back(model->head_at(model->pool(hidden[l]), l));
    const auto term = lt::distillation_term(torch::stack(logits), labels, 2.0);
    EXPECT_GT(term.item<double>(), 0.0);
    EXPECT_NEAR(distilled.loss.item<double>(),
                plain.loss.item<double>() + 0.5 * term.item<double>(), 1e-5);
    EXPECT_NEAR(distilled.distill.item<double>(), term.item<double>(), 1e-5);
    EXPECT_TRUE(distilled.layer_loss.allclose(plain.layer_loss));  // cross-entropies unchanged
  }
  config.heads = lm::HeadMode::shared;
  auto model = lm::make_model(config);
  EXPECT_PRED2(
      contains, error_message([&] {
        lt::objective_loss(*model, lt::Objective::standard, w, images, labels, 0, {0.5, 1});
      }),
      "train.distill needs a classifier read after every layer");
}

TEST(WeightSchedule, SettingsRoundTripThroughConfigJsonAndTheCli) {
  lt::TrainConfig train;
  train.layer_weighting = lt::LayerWeighting::exponential;
  train.weight_rate = 2.5;
  train.last_weight_boost = 1.5;
  train.weight_lr_scale = 10;
  train.distill = 0.3;
  train.distill_temperature = 2;
  const auto j = lt::to_json(train);
  EXPECT_EQ(j.at("layer_weighting"), "exponential");
  EXPECT_EQ(j.at("weight_rate"), 2.5);
  EXPECT_EQ(j.at("distill"), 0.3);
  EXPECT_EQ(lt::to_json(lt::train_config_from_json(j)), j);

  const auto dir = temp_dir("weight_schedule");
  auto r = run_cli(
      "-q train --preset tiny --layers 3 --train-limit 64 --val-limit 32 --epochs 1 "
      "--batch-size 32 --layer-weights sqrt --last-weight-boost 2 --distill 0.5 "
      "--distill-temperature 3 --out " +
      dir + "/run");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto written = read_json(dir + "/run/config.json").at("train");
  EXPECT_EQ(written.at("layer_weighting"), "sqrt");
  EXPECT_EQ(written.at("last_weight_boost"), 2.0);
  EXPECT_EQ(written.at("distill"), 0.5);
  EXPECT_EQ(written.at("distill_temperature"), 3.0);
  // metrics.jsonl logs the distillation term of every step beside the loss that includes it.
  std::ifstream metrics(dir + "/run/metrics.jsonl");
  int64_t logged = 0;
  for (std::string line; std::getline(metrics, line);) {
    const auto m = nlohmann::json::parse(line);
    if (!m.contains("loss")) continue;
    ASSERT_TRUE(m.contains("distill")) << line;
    EXPECT_GT(m.at("distill").get<double>(), 0.0) << line;
    ++logged;
  }
  EXPECT_GT(logged, 0);
  r = run_cli("-q train --preset tiny --objective standard --distill 0.5 --epochs 1 --out " + dir +
              "/bad");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_PRED2(contains, r.output, "train.distill (--distill) needs a classifier read after every");
  layerwise::testing::remove_tree(dir);
}
