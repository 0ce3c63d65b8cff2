// Early exit: each policy on hand-made logits, and the batch-dynamic runner against full-depth
// predictions and a per-sample reference loop.
#include "layerwise/exit/policy.h"
#include "layerwise/exit/runner.h"
#include "layerwise/exit/sweep.h"
#include "layerwise/exit/timing.h"
#include "layerwise/inference/predict.h"
#include "layerwise/model/layered_model.h"
#include "layerwise/model/text_models.h"
#include "test_util.h"

namespace le = layerwise::exit;
namespace la = layerwise::analysis;
namespace li = layerwise::inference;
namespace lm = layerwise::model;
using layerwise::testing::error_message;

namespace {

// Logits whose softmax puts probability p on class `top` and spreads the rest over 3 others.
torch::Tensor logits_for(const std::vector<std::pair<int64_t, double>>& rows) {
  auto out = torch::zeros({int64_t(rows.size()), 4});
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto [top, p] = rows[i];
    for (int64_t c = 0; c < 4; ++c) out[i][c] = std::log(c == top ? p : (1 - p) / 3);
  }
  return out;
}

// A reference: one sample at a time, every layer computed, the first layer the policy accepts.
std::pair<int64_t, int64_t> exit_one(lm::LayeredModel& model, const torch::Tensor& image,
                                     const le::ExitPolicy& policy, li::HeadChoice heads) {
  torch::NoGradGuard no_grad;
  const auto hidden = model.forward_layers(image.unsqueeze(0));
  auto state = le::initial_state(1, torch::kCPU);
  for (int64_t l = 1; l <= model.n_layers(); ++l) {
    const auto z = model.pool(hidden[l]);
    const auto logits = heads == li::HeadChoice::last ? model.head(z) : model.head_at(z, l);
    if (le::should_exit(policy, logits, l, model.n_layers(), state)[0].item<bool>())
      return {logits.argmax(1).item<int64_t>(), l};
  }
  return {-1, -1};
}

}  // namespace

TEST(ExitPolicy, ConfidenceAndEntropyOnHandMadeLogits) {
  const auto logits = logits_for({{0, 0.95}, {1, 0.5}, {2, 0.25}});
  auto state = le::initial_state(3, torch::kCPU);
  auto exits = le::should_exit({le::PolicyKind::confidence, 0.9}, logits, 1, 6, state);
  EXPECT_TRUE(exits.equal(torch::tensor({true, false, false})));
  // Normalized entropy of the uniform row is 1; of the 0.95 row about 0.17.
  state = le::initial_state(3, torch::kCPU);
  exits = le::should_exit({le::PolicyKind::entropy, 0.2}, logits, 1, 6, state);
  EXPECT_TRUE(exits.equal(torch::tensor({true, false, false})));
  exits = le::should_exit({le::PolicyKind::entropy, 0.999}, logits, 2, 6, state);
  EXPECT_TRUE(exits.equal(torch::tensor({true, true, false})));
  // The last layer lets everyone go.
  exits = le::should_exit({le::PolicyKind::confidence, 1.0}, logits, 6, 6, state);
  EXPECT_TRUE(exits.all().item<bool>());
}

TEST(ExitPolicy, PatienceCountsLayersInARowAndDepthCutsEveryone) {
  auto state = le::initial_state(2, torch::kCPU);
  const le::ExitPolicy patience{le::PolicyKind::patience, 3};
  // Sample 0 keeps class 1; sample 1 changes its mind at layer 2.
  const std::vector<std::vector<std::pair<int64_t, double>>> layers = {
      {{1, 0.6}, {0, 0.6}}, {{1, 0.6}, {2, 0.6}}, {{1, 0.6}, {2, 0.6}}, {{1, 0.6}, {2, 0.6}}};
  const std::vector<std::vector<bool>> expected = {
      {false, false}, {false, false}, {true, false}, {true, true}};
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto exits = le::should_exit(patience, logits_for(layers[l]), int64_t(l) + 1, 8, state);
    EXPECT_EQ(exits[0].item<bool>(), expected[l][0]) << "layer " << l + 1;
    EXPECT_EQ(exits[1].item<bool>(), expected[l][1]) << "layer " << l + 1;
  }
  state = le::initial_state(2, torch::kCPU);
  const le::ExitPolicy depth{le::PolicyKind::depth, 2};
  EXPECT_FALSE(le::should_exit(depth, logits_for(layers[0]), 1, 8, state).any().item<bool>());
  EXPECT_TRUE(le::should_exit(depth, logits_for(layers[1]), 2, 8, state).all().item<bool>());
  EXPECT_NE(error_message([] {
              le::validate({le::PolicyKind::patience, 1.5});
            }).find("whole number"),
            std::string::npos);
  EXPECT_NE(error_message([] {
              le::validate({le::PolicyKind::confidence, 1.5});
            }).find("[0, 1]"),
            std::string::npos);
  EXPECT_NE(error_message([] {
              layerwise::parse_enum<le::PolicyKind>("eager", "--policy");
            }).find("--policy 'eager' is not known; use confidence, entropy, patience or depth"),
            std::string::npos);
}

TEST(ExitRunner, MatchesFullDepthWhenNobodyMayExitAndTheReferenceWhenTheyMay) {
  torch::manual_seed(0);
  auto config = lm::vit_preset("tiny");
  config.n_layers = 4;
  config.heads = lm::HeadMode::per_layer;
  auto model = lm::make_model(config);
  model->eval();
  const auto images = torch::randn({23, 1, 28, 28});
  li::InferenceOptions options;
  options.batch_size = 10;  // three batches, the last one short

  // A confidence threshold at the median of layer 1, so about half the samples leave there.
  double median = 0;
  {
    torch::NoGradGuard no_grad;
    const auto z = model->pool(model->forward_layers(images, 1)[1]);
    median = model->head(z).softmax(1).amax(1).median().item<double>();
  }
  for (auto schedule : {le::Schedule::batch, le::Schedule::stream}) {
    SCOPED_TRACE(layerwise::enum_name(schedule));
    // Nobody may exit early: the full model's predictions, everyone at layer 4.
    auto never = le::run_early_exit(*model, images, {le::PolicyKind::confidence, 1.0},
                                    li::HeadChoice::last, options, schedule);
    {
      torch::NoGradGuard no_grad;
      EXPECT_TRUE(never.predictions.equal(model->forward(images).argmax(1)));
    }
    EXPECT_TRUE((never.exit_layer == 4).all().item<bool>());

    // Everyone exits at layer 1.
    auto all_first = le::run_early_exit(*model, images, {le::PolicyKind::confidence, 0.0},
                                        li::HeadChoice::last, options, schedule);
    EXPECT_TRUE((all_first.exit_layer == 1).all().item<bool>());

    // A mix: the per-sample reference loop decides the same, in input order, with either head,
    // and the stream schedule (rows of several batches share block calls) changes nothing.
    for (auto heads : {li::HeadChoice::last, li::HeadChoice::own}) {
      for (const le::ExitPolicy policy : {le::ExitPolicy{le::PolicyKind::confidence, median},
                                          le::ExitPolicy{le::PolicyKind::entropy, 0.9985},
                                          le::ExitPolicy{le::PolicyKind::patience, 2}}) {
        const auto result = le::run_early_exit(*model, images, policy, heads, options, schedule);
        if (policy.kind == le::PolicyKind::confidence && heads == li::HeadChoice::last) {
          EXPECT_GT((result.exit_layer == 1).sum().item<int64_t>(), 5);
          EXPECT_GT((result.exit_layer > 1).sum().item<int64_t>(), 5);
        }
        for (int64_t i = 0; i < images.size(0); ++i) {
          const auto [prediction, layer] = exit_one(*model, images[i], policy, heads);
          EXPECT_EQ(result.predictions[i].item<int64_t>(), prediction) << i;
          EXPECT_EQ(result.exit_layer[i].item<int64_t>(), layer) << i;
        }
      }
    }
  }
  // The confidences agree between schedules at batch sizes 1 and 7 as well.
  for (int64_t batch : {1, 7}) {
    auto small = options;
    small.batch_size = batch;
    const le::ExitPolicy policy{le::PolicyKind::confidence, median};
    const auto a = le::run_early_exit(*model, images, policy, li::HeadChoice::last, small,
                                      le::Schedule::batch);
    const auto b = le::run_early_exit(*model, images, policy, li::HeadChoice::last, small,
                                      le::Schedule::stream);
    EXPECT_TRUE(a.exit_layer.equal(b.exit_layer)) << batch;
    EXPECT_TRUE(a.predictions.equal(b.predictions)) << batch;
    EXPECT_LT((a.confidence - b.confidence).abs().max().item<double>(), 1e-5) << batch;
  }
  EXPECT_EQ(layerwise::parse_enum<le::Schedule>("stream", "schedule"), le::Schedule::stream);
  EXPECT_NE(error_message([] {
              layerwise::parse_enum<le::Schedule>("eager", "schedule");
            }).find("batch or stream"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              le::run_early_exit(*model, images, {le::PolicyKind::depth, 5}, li::HeadChoice::last,
                                 options);
            }).find("4 layers"),
            std::string::npos);
}

TEST(ExitRunner, TextRowsKeepTheirMasksInBothSchedules) {
  torch::manual_seed(3);
  auto config = lm::text_preset("encoder-tiny");
  config.vocab_size = 50;
  config.n_layers = 4;
  config.n_classes = 3;
  config.max_len = 12;
  auto model = lm::make_model(config);
  model->eval();
  // 19 rows of <cls> + 1..10 tokens, padded to 12 (ragged lengths within every batch).
  auto tokens = torch::randint(4, 50, {19, 12}, torch::kInt64);
  for (int64_t i = 0; i < 19; ++i) tokens[i].slice(0, 2 + i % 10).fill_(lm::kPadToken);
  tokens.select(1, 0).fill_(1);
  li::InferenceOptions options;
  options.batch_size = 5;
  torch::Tensor full;
  double median = 0;
  {
    torch::NoGradGuard no_grad;
    full = model->forward(tokens).argmax(1);
    const auto h1 = model->forward_layers(tokens, 1)[1];
    median = model->head(model->pool(h1, model->token_mask(tokens)))
                 .softmax(1)
                 .amax(1)
                 .median()
                 .item<double>();
  }
  for (auto schedule : {le::Schedule::batch, le::Schedule::stream}) {
    SCOPED_TRACE(layerwise::enum_name(schedule));
    const auto never = le::run_early_exit(*model, tokens, {le::PolicyKind::confidence, 1.0},
                                          li::HeadChoice::last, options, schedule);
    EXPECT_TRUE(never.predictions.equal(full));
    const le::ExitPolicy policy{le::PolicyKind::confidence, median};
    const auto mixed =
        le::run_early_exit(*model, tokens, policy, li::HeadChoice::last, options, schedule);
    EXPECT_GT((mixed.exit_layer == 1).sum().item<int64_t>(), 3);
    for (int64_t i = 0; i < tokens.size(0); ++i) {
      // One row alone, without padding rows of other lengths around it.
      const auto alone = le::run_early_exit(*model, tokens.slice(0, i, i + 1), policy,
                                            li::HeadChoice::last, options, schedule);
      EXPECT_EQ(mixed.exit_layer[i].item<int64_t>(), alone.exit_layer[0].item<int64_t>()) << i;
      EXPECT_EQ(mixed.predictions[i].item<int64_t>(), alone.predictions[0].item<int64_t>()) << i;
    }
  }
}

TEST(ExitSweep, SimulationMatchesTheRunnerAndCalibrationMeetsItsTarget) {
  torch::manual_seed(1);
  auto config = lm::vit_preset("tiny");
  config.n_layers = 4;
  auto model = lm::make_model(config);
  const auto images = torch::randn({40, 1, 28, 28});
  const auto labels = torch::randint(0, 10, {40}, torch::kInt64);
  li::InferenceOptions options;
  options.batch_size = 16;
  const auto p = li::predict_layers(*model, images, labels, li::HeadChoice::last, options);
  const double median = p.confidence[0].median().item<double>();
  for (const le::ExitPolicy policy :
       {le::ExitPolicy{le::PolicyKind::confidence, median},
        le::ExitPolicy{le::PolicyKind::patience, 2}, le::ExitPolicy{le::PolicyKind::depth, 3}}) {
    const auto run = le::run_early_exit(*model, images, policy, li::HeadChoice::last, options);
    EXPECT_TRUE(le::simulate_exit_layers(policy, p).equal(run.exit_layer))
        << layerwise::enum_name(policy.kind);
  }
  const auto costs = le::layer_costs(config);
  const auto depth2 = le::evaluate_policy({le::PolicyKind::depth, 2}, p, costs);
  EXPECT_DOUBLE_EQ(depth2.mean_exit_layer, 2.0);
  EXPECT_DOUBLE_EQ(depth2.speedup_layers, 2.0);
  EXPECT_NEAR(
      depth2.flops_ratio,
      (costs.embed + 2 * (costs.block + costs.head)) / (costs.embed + 4 * costs.block + costs.head),
      1e-12);
  EXPECT_DOUBLE_EQ(depth2.accuracy, la::layer_accuracy(p)[1].item<double>());

  // Calibration on hand-made predictions: layer 2 is as good as layer 4 for all but one sample.
  la::LayerPredictions hand;
  hand.labels = torch::tensor({0, 1, 2, 3}, torch::kInt64);
  hand.predictions =
      torch::tensor({{0, 0, 0, 0}, {0, 1, 2, 0}, {0, 1, 2, 3}, {0, 1, 2, 3}}, torch::kInt64);
  hand.confidence = torch::full({4, 4}, 0.5);
  hand.entropy = torch::full({4, 4}, 0.5);
  EXPECT_EQ(le::calibrate_threshold(le::PolicyKind::depth, hand, 0.0), 3.0);   // no drop allowed
  EXPECT_EQ(le::calibrate_threshold(le::PolicyKind::depth, hand, 0.25), 2.0);  // one sample of 4
  EXPECT_EQ(le::calibrate_threshold(le::PolicyKind::depth, hand, 0.75), 1.0);
}

TEST(ExitTiming, MeasuresBothPathsOnTheSameSamples) {
  torch::manual_seed(9);
  auto config = lm::vit_preset("tiny");
  config.n_layers = 4;
  auto model = lm::make_model(config);
  const auto images = torch::randn({40, 1, 28, 28});
  layerwise::inference::InferenceOptions options;
  options.batch_size = 16;
  // Everyone leaves after layer 1: the ideal speed-up is L = 4.
  const auto timing = layerwise::exit::time_early_exit(
      *model, images, {layerwise::exit::PolicyKind::depth, 1.0},
      layerwise::inference::HeadChoice::last, options, layerwise::exit::Schedule::stream, 1);
  EXPECT_EQ(timing.samples, 40);
  EXPECT_EQ(timing.batch_size, 16);
  EXPECT_EQ(timing.schedule, layerwise::exit::Schedule::stream);
  EXPECT_DOUBLE_EQ(timing.mean_exit_layer, 1.0);
  EXPECT_DOUBLE_EQ(timing.speedup_layers, 4.0);
  EXPECT_GT(timing.early_exit_seconds, 0.0);
  EXPECT_GT(timing.full_depth_seconds, 0.0);
  EXPECT_DOUBLE_EQ(timing.speedup_wall, timing.full_depth_seconds / timing.early_exit_seconds);
  const auto json = layerwise::exit::to_json(timing);
  EXPECT_DOUBLE_EQ(json.at("efficiency").get<double>(), timing.speedup_wall / 4.0);
  EXPECT_EQ(json.at("schedule"), "stream");
}

// On the GPU machine: replayed block graphs decide exactly as eager calls, in both schedules,
// float32 and bf16, for images and padded text, also when one cache serves several runs.
TEST(ExitRunnerCuda, GraphReplaysDecideAsEagerCalls) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(5);
  auto config = lm::vit_preset("tiny");
  config.n_layers = 4;
  auto model = lm::make_model(config);
  model->to(torch::kCUDA);
  const auto images = torch::randn({70, 1, 28, 28});
  for (const bool bf16 : {false, true}) {
    li::InferenceOptions options;
    options.device = torch::kCUDA;
    options.batch_size = 16;
    options.bf16 = bf16;
    auto eager = options;
    eager.cuda_graphs = false;
    double median = 0;
    {
      li::InferenceScope scope(*model, options);
      const auto z = model->pool(model->forward_layers(images.cuda(), 1)[1]);
      median = model->head(z).softmax(1).amax(1).median().item<double>();
    }
    const le::ExitPolicy policy{le::PolicyKind::confidence, median};
    for (auto schedule : {le::Schedule::batch, le::Schedule::stream}) {
      SCOPED_TRACE(std::string(bf16 ? "bf16 " : "float32 ") + layerwise::enum_name(schedule));
      const auto reference =
          le::run_early_exit(*model, images, policy, li::HeadChoice::last, eager, schedule);
      le::ExitGraphs graphs;
      for (int run = 0; run < 3; ++run) {  // run 0 warms up and captures, 1 and 2 replay
        const auto result = le::run_early_exit(*model, images, policy, li::HeadChoice::last,
                                               options, schedule, &graphs);
        EXPECT_TRUE(result.exit_layer.equal(reference.exit_layer)) << run;
        EXPECT_TRUE(result.predictions.equal(reference.predictions)) << run;
        EXPECT_LT((result.confidence - reference.confidence).abs().max().item<double>(), 1e-5);
      }
    }
    const auto timing = le::time_early_exit(*model, images, policy, li::HeadChoice::last, options,
                                            le::Schedule::stream, 3);
    EXPECT_GT(timing.speedup_wall, 0);
  }
}
