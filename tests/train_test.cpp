// Objectives against hand computations, the shared head's gradients, AdamW, the schedule,
// clipping, checkpoints, resume equality and a short real training run.
#include <fstream>

#include <nlohmann/json.hpp>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/core/safetensors.h"
#include "layerwise/data/image_dataset.h"
#include "layerwise/model/layered_model.h"
#include "layerwise/model/weights.h"
#include "layerwise/train/checkpoint.h"
#include "layerwise/train/objective.h"
#include "layerwise/train/optimizer.h"
#include "layerwise/train/run_config.h"
#include "layerwise/train/trainer.h"
#include "test_util.h"

namespace lm = layerwise::model;
namespace lt = layerwise::train;
using layerwise::testing::error_message;
using layerwise::testing::max_diff;

namespace {

lm::ModelPtr tiny_model(lm::HeadMode heads, uint64_t seed = 0) {
  torch::manual_seed(seed);
  auto config = lm::vit_preset("tiny");
  config.n_layers = 3;
  config.heads = heads;
  return lm::make_model(config);
}

torch::Tensor weights_tensor(const std::vector<double>& w) {
  return torch::tensor(w, torch::kFloat64).to(torch::kFloat32);
}

// Mean cross-entropy written out: -log softmax(logits)[y].
torch::Tensor ce_by_hand(const torch::Tensor& logits, const torch::Tensor& labels) {
  const auto log_p = logits - logits.exp().sum(1, true).log();
  return -log_p.gather(1, labels.unsqueeze(1)).mean();
}

using layerwise::testing::fashion_mnist_installed;
using layerwise::testing::contains;

lt::RunConfig tiny_run(lt::Objective objective, int64_t train_limit, int64_t epochs) {
  lt::RunConfig config;
  config.model = lm::vit_preset("tiny");
  config.train.objective = objective;
  config.train.epochs = epochs;
  config.train.batch_size = 64;
  config.train.lr = 2e-3;
  config.train.warmup_epochs = 0.5;
  config.train.log_every = 4;
  config.data.train_limit = train_limit;
  config.data.val_fraction = 0.01;
  return config;
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

}  // namespace

TEST(LayerWeights, LinearUniformCustom) {
  using lt::LayerWeighting;
  const auto linear = lt::layer_weights(LayerWeighting::linear, 4);
  const std::vector<double> expected = {0.1, 0.2, 0.3, 0.4};  // 2l / (L(L+1)), L = 4
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(linear[i], expected[i], 1e-15);
  double sum = 0;
  for (double w : lt::layer_weights(LayerWeighting::linear, 12)) sum += w;
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_EQ(lt::layer_weights(LayerWeighting::uniform, 4), std::vector<double>(4, 0.25));
  EXPECT_EQ(lt::layer_weights(LayerWeighting::custom, 2, {0, 3}), (std::vector<double>{0, 3}));
  const auto custom_error = [](int64_t layers, std::vector<double> w) {
    return error_message([&] { lt::layer_weights(LayerWeighting::custom, layers, w); });
  };
  EXPECT_TRUE(contains(custom_error(3, {1, 2}), "train.layer_weights has 2 values"));
  EXPECT_TRUE(contains(custom_error(2, {1, -1}), ">= 0"));
  EXPECT_TRUE(contains(custom_error(2, {0, 0}), "all zero"));
  EXPECT_TRUE(contains(error_message([] {
                         layerwise::parse_enum<LayerWeighting>("cubic", "train.layer_weighting");
                       }),
                       "'cubic'"));
}

TEST(Objective, LossesMatchHandComputation) {
  const auto images = torch::randn({6, 1, 28, 28});
  const auto labels = torch::tensor({0, 3, 9, 3, 1, 7}, torch::kInt64);
  const std::vector<double> w = lt::layer_weights(lt::LayerWeighting::linear, 3);
  for (auto objective :
       {lt::Objective::standard, lt::Objective::aligned, lt::Objective::multihead}) {
    auto model = tiny_model(lt::head_mode_for(objective));
    const auto result = lt::objective_loss(*model, objective, weights_tensor(w), images, labels);
    const auto hidden = model->forward_layers(images);
    torch::Tensor expected = torch::zeros({});
    if (objective == lt::Objective::standard) {
      expected = ce_by_hand(model->head(model->pool(hidden[3])), labels);
    } else {
      for (int64_t l = 1; l <= 3; ++l) {
        const auto z = model->pool(hidden[l]);
        const auto logits =
            objective == lt::Objective::aligned ? model->head(z) : model->head_at(z, l);
        const auto ce = ce_by_hand(logits, labels);
        EXPECT_NEAR(result.layer_loss[l - 1].item<double>(), ce.item<double>(), 1e-5);
        expected = expected + w[l - 1] * ce;
      }
    }
    EXPECT_NEAR(result.loss.item<double>(), expected.item<double>(), 1e-5)
        << layerwise::enum_name(objective);
    EXPECT_EQ(result.last_logits.sizes(), torch::IntArrayRef({6, 10}));
  }
}

TEST(Objective, SharedHeadGetsGradientsFromEveryLayer) {
  const auto images = torch::randn({8, 1, 28, 28});
  const auto labels = torch::randint(0, 10, {8}, torch::kInt64);
  auto model = tiny_model(lm::HeadMode::shared, 3);
  EXPECT_EQ(model->exit_heads->size(), 0u);  // one classifier, one parameter set
  auto grad_for = [&](const std::vector<double>& w) {
    for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
    lt::objective_loss(*model, lt::Objective::aligned, weights_tensor(w), images, labels)
        .loss.backward();
    return model->classifier->weight.grad().clone();
  };
  std::vector<torch::Tensor> per_layer;
  for (int l = 0; l < 3; ++l) {
    std::vector<double> one_hot(3, 0.0);
    one_hot[l] = 1.0;
    per_layer.push_back(grad_for(one_hot));
    EXPECT_GT(per_layer.back().abs().sum().item<double>(), 0.0) << "layer " << l + 1;
    // Blocks after layer l + 1 do not touch this loss.
    for (int later = l + 1; later < 3; ++later) {
      const auto g =
          model->named_parameters()["blocks." + std::to_string(later) + ".attn.qkv.weight"].grad();
      EXPECT_TRUE(!g.defined() || g.abs().sum().item<double>() == 0.0);
    }
  }
  // The loss is linear in the weights, so is the head's gradient.
  const auto w = lt::layer_weights(lt::LayerWeighting::linear, 3);
  const auto combined = grad_for(w);
  EXPECT_LT(max_diff(combined, w[0] * per_layer[0] + w[1] * per_layer[1] + w[2] * per_layer[2]),
            1e-6);
  // The per-layer gradients differ: each layer's states reach the head.
  EXPECT_GT(max_diff(per_layer[0], per_layer[2]), 1e-6);
}

TEST(AdamW, OneStepMatchesTheFormula) {
  auto weight = torch::tensor({{1.0, -2.0}, {0.5, 3.0}}).requires_grad_(true);
  auto bias = torch::tensor({0.1, -0.1}).requires_grad_(true);
  lt::AdamW optimizer({{"fc.weight", weight}, {"fc.bias", bias}}, {0.9, 0.999, 1e-8, 0.1});
  const auto gw = torch::tensor({{0.2, -0.4}, {1.0, 0.0}}), gb = torch::tensor({-1.0, 2.0});
  weight.mutable_grad() = gw.clone();
  bias.mutable_grad() = gb.clone();
  const auto w0 = weight.detach().clone(), b0 = bias.detach().clone();
  optimizer.step(0.01);
  // Step 1: m_hat = g, v_hat = g^2, so the update is lr g / (|g| + eps); decay on the matrix only.
  const auto expected_w = w0 * (1 - 0.01 * 0.1) - 0.01 * gw / (gw.abs() + 1e-8);
  const auto expected_b = b0 - 0.01 * gb / (gb.abs() + 1e-8);
  EXPECT_LT(max_diff(weight, expected_w), 1e-6);
  EXPECT_LT(max_diff(bias, expected_b), 1e-6);
  EXPECT_TRUE(lt::AdamW::decays("blocks.0.mlp.fc1.weight", torch::zeros({2, 2})));
  EXPECT_FALSE(lt::AdamW::decays("pos_embed", torch::zeros({1, 3, 2})));
  EXPECT_FALSE(lt::AdamW::decays("cls_token", torch::zeros({1, 1, 2})));
  EXPECT_FALSE(lt::AdamW::decays("final_norm.weight", torch::zeros({2})));
}

TEST(Schedule, WarmupThenCosine) {
  EXPECT_DOUBLE_EQ(lt::warmup_cosine_lr(0, 100, 10, 1.0, 0.0), 0.1);
  EXPECT_DOUBLE_EQ(lt::warmup_cosine_lr(9, 100, 10, 1.0, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(lt::warmup_cosine_lr(10, 100, 10, 1.0, 0.1), 1.0);
  EXPECT_NEAR(lt::warmup_cosine_lr(99, 100, 10, 1.0, 0.1), 0.1, 1e-12);
  EXPECT_NEAR(lt::warmup_cosine_lr(10 + 89 / 2.0, 100, 10, 1.0, 0.0), 0.5, 0.02);
  double previous = 2;
  for (int s = 10; s < 100; ++s) {
    const double lr = lt::warmup_cosine_lr(s, 100, 10, 1.0, 0.0);
    EXPECT_LE(lr, previous);
    previous = lr;
  }
}

TEST(ClipGradNorm, ScalesToTheLimitAndReportsTheNorm) {
  auto a = torch::zeros({2}).requires_grad_(true), b = torch::zeros({1}).requires_grad_(true);
  a.mutable_grad() = torch::tensor({3.0, 0.0});
  b.mutable_grad() = torch::tensor({4.0});
  const auto norm = lt::clip_grad_norm({{"a", a}, {"b", b}}, 1.0);
  EXPECT_NEAR(norm.item<double>(), 5.0, 1e-6);
  EXPECT_NEAR(a.grad()[0].item<double>(), 0.6, 1e-6);
  EXPECT_NEAR(b.grad()[0].item<double>(), 0.8, 1e-6);
  lt::clip_grad_norm({{"a", a}, {"b", b}}, 10.0);  // below the limit: unchanged
  EXPECT_NEAR(b.grad()[0].item<double>(), 0.8, 1e-6);
}

TEST(RunConfig, JsonRoundTripAndErrors) {
  auto config = tiny_run(lt::Objective::multihead, 100, 3);
  config.model.heads = lm::HeadMode::per_layer;
  config.train.layer_weighting = lt::LayerWeighting::custom;
  config.train.layer_weights = {1, 2};
  const auto j = lt::to_json(config);
  EXPECT_EQ(j.at("objective"), "multihead");
  EXPECT_EQ(lt::to_json(lt::run_config_from_json(j)).dump(), j.dump());
  auto bad = j;
  bad["train"]["epoch"] = 3;
  EXPECT_TRUE(
      contains(error_message([&] { lt::run_config_from_json(bad); }), "unknown setting 'epoch'"));
  bad = j;
  bad["model"]["heads"] = "shared";
  EXPECT_TRUE(contains(error_message([&] { lt::run_config_from_json(bad); }),
                       "needs model heads per_layer"));
  auto train = config.train;
  train.epochs = 0;
  EXPECT_TRUE(
      contains(error_message([&] { lt::validate(train); }), "train.epochs must be >= 1, got 0"));
}

TEST(Training, ResumedRunReachesTheSameWeights) {
  if (!fashion_mnist_installed()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto dir = layerwise::testing::temp_dir("resume");
  lt::TrainOptions quiet;
  quiet.quiet = true;
  const auto config = tiny_run(lt::Objective::aligned, 384, 2);  // 6 steps per epoch
  lt::train_new_run(config, dir + "/whole", quiet);

  auto interrupted = quiet;
  interrupted.stop_after_steps = 4;  // mid-epoch
  const auto first = lt::train_new_run(config, dir + "/parts", interrupted);
  EXPECT_EQ(first.step, 4);
  const auto second = lt::resume_run(dir + "/parts", "", quiet);
  EXPECT_EQ(second.step, 12);

  const auto whole = layerwise::read_safetensors(dir + "/whole/model.safetensors");
  const auto parts = layerwise::read_safetensors(dir + "/parts/model.safetensors");
  ASSERT_EQ(whole.tensors.size(), parts.tensors.size());
  for (size_t i = 0; i < whole.tensors.size(); ++i)
    EXPECT_EQ(max_diff(whole.tensors[i].second, parts.tensors[i].second), 0.0)
        << whole.tensors[i].first;
  // One metrics line per step, no duplicates from the interrupted part.
  int64_t step_lines = 0;
  for (const auto& line : read_jsonl(dir + "/parts/metrics.jsonl")) {
    if (line.contains("loss")) {
      EXPECT_EQ(line.at("step"), ++step_lines);
    }
  }
  EXPECT_EQ(step_lines, 12);

  // Two complete checkpoints are kept (steps 12 and 6); a damaged one is passed over for the one
  // before it, from which the run reaches the same weights again.
  const layerwise::RunDir parts_dir(dir + "/parts");
  const auto folders = parts_dir.checkpoint_folders();
  ASSERT_EQ(folders.size(), 2u);
  EXPECT_EQ(folders[0].first, 12);
  EXPECT_EQ(folders[1].first, 6);
  const auto damage = [](const std::string& file) { std::ofstream(file, std::ios::app) << "x"; };
  damage(folders[0].second + "/optimizer.safetensors");
  EXPECT_TRUE(contains(lt::verify_checkpoint(folders[0].second), "bytes"));
  EXPECT_EQ(lt::resume_run(dir + "/parts", "", quiet).step, 12);
  const auto again = layerwise::read_safetensors(dir + "/parts/model.safetensors");
  for (size_t i = 0; i < whole.tensors.size(); ++i)
    EXPECT_EQ(max_diff(whole.tensors[i].second, again.tensors[i].second), 0.0);
  // With every checkpoint damaged, resume refuses and says why.
  for (const auto& [step, folder] : parts_dir.checkpoint_folders())
    damage(folder + "/model.safetensors");
  const auto refused = error_message([&] { lt::resume_run(dir + "/parts", "", quiet); });
  EXPECT_TRUE(contains(refused, "no complete checkpoint")) << refused;
  EXPECT_TRUE(contains(refused, "step-000000006: model.safetensors has")) << refused;
  // A folder that already holds a run is not overwritten.
  EXPECT_TRUE(contains(error_message([&] { lt::train_new_run(config, dir + "/whole", quiet); }),
                       "already holds a run"));
  layerwise::testing::remove_tree(dir);
}

TEST(Training, ShortRealRunLearns) {
  if (!fashion_mnist_installed()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto dir = layerwise::testing::temp_dir("learns");
  lt::TrainOptions quiet;
  quiet.quiet = true;
  auto config = tiny_run(lt::Objective::aligned, 4096, 3);
  config.data.val_fraction = 0.05;
  config.train.augment = lt::Augment::none;  // augmentation slows a run this short
  const auto summary = lt::train_new_run(config, dir + "/run", quiet);
  ASSERT_EQ(summary.val_accuracy.size(), 2u);
  EXPECT_GT(summary.val_accuracy.back(), 0.5);  // chance is 0.1
  const auto lines = read_jsonl(dir + "/run/metrics.jsonl");
  double early = 0, late = 0;
  int n_steps = 0;
  for (const auto& line : lines)
    if (line.contains("loss")) ++n_steps;
  int seen = 0;
  for (const auto& line : lines) {
    if (!line.contains("loss")) continue;
    if (seen < 10) early += line.at("loss").get<double>() / 10;
    if (seen >= n_steps - 10) late += line.at("loss").get<double>() / 10;
    ++seen;
  }
  EXPECT_LT(late, 0.75 * early);
  const auto config_json = nlohmann::json::parse(layerwise::read_file(dir + "/run/config.json"));
  EXPECT_EQ(config_json.at("objective"), "aligned");
  EXPECT_GT(config_json.at("data").at("std").get<double>(), 0.3);  // measured on the training data
  layerwise::testing::remove_tree(dir);
}

TEST(Objective, LabelSmoothingMixesInTheUniformTarget) {
  const auto images = torch::randn({5, 1, 28, 28});
  const auto labels = torch::tensor({2, 2, 7, 0, 9}, torch::kInt64);
  auto model = tiny_model(lm::HeadMode::shared, 4);
  const double e = 0.1;
  const auto w = weights_tensor(lt::layer_weights(lt::LayerWeighting::linear, 3));
  const auto result = lt::objective_loss(*model, lt::Objective::standard, w, images, labels, e);
  const auto logits = model->head(model->pool(model->forward_layers(images)[3]));
  const auto log_p = logits.log_softmax(1);
  const auto expected = (1 - e) * ce_by_hand(logits, labels) - e * log_p.mean(1).mean();
  EXPECT_NEAR(result.loss.item<double>(), expected.item<double>(), 1e-5);
  EXPECT_TRUE(contains(error_message([&] {
                         lt::objective_loss(*model, lt::Objective::standard, w, images, labels,
                                            1.0);
                       }),
                       "train.label_smoothing"));
}
