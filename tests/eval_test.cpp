// Layer-wise reading (saturation, minimal depth, predictions), augmentation and run data splits.
#include <fstream>

#include "layerwise/data/augment.h"
#include "layerwise/data/image_dataset.h"
#include "layerwise/data/task_data.h"
#include "layerwise/inference/extract.h"
#include "layerwise/inference/predict.h"
#include "layerwise/model/layered_model.h"
#include "test_util.h"

namespace la = layerwise::analysis;
namespace li = layerwise::inference;
namespace ld = layerwise::data;
namespace lm = layerwise::model;
using layerwise::testing::error_message;
using layerwise::testing::max_diff;

TEST(LayerwiseEval, SaturationLayerByHand) {
  // Columns are samples, rows layers 1..4.
  const auto predictions = torch::tensor({{1, 2, 3, 0},  //
                                          {1, 5, 4, 0},
                                          {2, 5, 4, 0},
                                          {1, 5, 4, 0}},
                                         torch::kInt64);
  const auto saturation = la::saturation_layers(predictions);
  // Sample 0: layer 3 disagrees, so 4; sample 1: from 2; sample 2: from 2; sample 3: from 1.
  EXPECT_TRUE(saturation.equal(torch::tensor({4, 2, 2, 1}, torch::kInt64)));
}

TEST(LayerwiseEval, MinimalDepthAndSummary) {
  EXPECT_EQ(la::minimal_depth(torch::tensor({0.5, 0.85, 0.895, 0.9}), 0.01), 3);
  EXPECT_EQ(la::minimal_depth(torch::tensor({0.5, 0.85, 0.895, 0.9}), 0.0), 4);
  EXPECT_EQ(la::minimal_depth(torch::tensor({0.95, 0.85, 0.9}), 0.01), 1);

  la::LayerPredictions p;
  p.labels = torch::tensor({1, 5, 4, 0}, torch::kInt64);
  p.predictions =
      torch::tensor({{1, 2, 3, 0}, {1, 5, 4, 0}, {2, 5, 4, 0}, {1, 5, 4, 0}}, torch::kInt64);
  p.confidence = torch::full({4, 4}, 0.5);
  p.entropy = torch::full({4, 4}, 0.5);
  p.loss = torch::ones({4, 4});
  p.cos_to_last = torch::ones({4, 4});
  const auto summary = la::layerwise_summary(p, 0.01);
  const std::vector<double> accuracy = {0.5, 1.0, 0.75, 1.0};
  EXPECT_EQ(summary.at("accuracy").get<std::vector<double>>(), accuracy);
  EXPECT_EQ(summary.at("final_accuracy").get<double>(), 1.0);
  EXPECT_EQ(summary.at("minimal_depth").get<int64_t>(), 2);
  EXPECT_EQ(summary.at("saturation_layer_histogram").get<std::vector<int64_t>>(),
            (std::vector<int64_t>{1, 2, 0, 1}));
  EXPECT_DOUBLE_EQ(summary.at("mean_saturation_layer").get<double>(), 9.0 / 4);
  EXPECT_EQ(summary.at("n_samples").get<int64_t>(), 4);
}

TEST(LayerwiseEval, PredictionsAreTheHeadAppliedToEachLayer) {
  torch::manual_seed(0);
  auto config = lm::vit_preset("tiny");
  config.heads = lm::HeadMode::per_layer;
  auto model = lm::make_model(config);
  const auto images = torch::randn({37, 1, 28, 28});
  const auto labels = torch::randint(0, 10, {37}, torch::kInt64);
  li::InferenceOptions options;
  options.batch_size = 8;  // several batches, the last one short
  for (auto choice : {li::HeadChoice::last, li::HeadChoice::own}) {
    const auto p = li::predict_layers(*model, images, labels, choice, options);
    EXPECT_EQ(p.predictions.sizes(), torch::IntArrayRef({2, 37}));
    torch::NoGradGuard no_grad;
    const auto hidden = model->forward_layers(images);
    for (int64_t l = 1; l <= 2; ++l) {
      const auto z = model->pool(hidden[l]);
      const auto logits = choice == li::HeadChoice::last ? model->head(z) : model->head_at(z, l);
      EXPECT_TRUE(p.predictions[l - 1].equal(logits.argmax(1)));
      EXPECT_LT(max_diff(p.confidence[l - 1], logits.softmax(1).amax(1)), 1e-5);
      const auto q = logits.softmax(1);
      EXPECT_LT(max_diff(p.entropy[l - 1], -(q * q.log()).sum(1) / std::log(10.0)), 1e-5);
      EXPECT_LT(max_diff(p.loss[l - 1],
                         torch::cross_entropy_loss(logits, labels, {}, at::Reduction::None)),
                1e-4);
      EXPECT_LT(
          max_diff(p.cos_to_last[l - 1], torch::cosine_similarity(z, model->pool(hidden[2]), 1)),
          1e-5);
    }
    EXPECT_LT(max_diff(p.cos_to_last[1], torch::ones({37})), 1e-5);
  }
  EXPECT_TRUE(model->is_training());  // restored after evaluation

  const auto layers = li::extract_layers(*model, images, la::Pool::mean, options);
  ASSERT_EQ(layers.size(), 3u);
  torch::NoGradGuard no_grad;
  EXPECT_LT(max_diff(layers[1], model->forward_layers(images)[1].mean(1)), 1e-5);
  EXPECT_NE(error_message([&] { li::parse_layer_pool("middle", "--pool"); }).find("'middle'"),
            std::string::npos);
}

TEST(Augment, ShiftAndFlipMoveThePixels) {
  const auto images = torch::arange(2 * 1 * 5 * 5, torch::kFloat32).view({2, 1, 5, 5});
  // Offset (2, 2) is the centre crop: no shift.
  auto shifts = torch::full({2, 2}, 2, torch::kInt64);
  auto flips = torch::tensor({false, true});
  const auto out = ld::augment_images(images, shifts, flips, -1.0);
  EXPECT_TRUE(out[0].equal(images[0]));
  EXPECT_TRUE(out[1].equal(images[1].flip({2})));
  // Offset (0, 4): content moves down 2 rows and left 2 columns; the gap is filled.
  shifts = torch::tensor({{0, 4}, {0, 4}}, torch::kInt64);
  const auto moved = ld::augment_images(images, shifts, torch::tensor({false, false}), -1.0);
  EXPECT_TRUE(
      moved[0][0].slice(0, 2).slice(1, 0, 3).equal(images[0][0].slice(0, 0, 3).slice(1, 2)));
  EXPECT_TRUE((moved[0][0].slice(0, 0, 2) == -1).all().item<bool>());
  EXPECT_TRUE((moved[0][0].slice(1, 3) == -1).all().item<bool>());
  // Plans are reproducible and differ between epochs.
  const auto a = ld::plan_augmentation(1000, 7, 0), b = ld::plan_augmentation(1000, 7, 0);
  const auto c = ld::plan_augmentation(1000, 7, 1);
  EXPECT_TRUE(a.shifts.equal(b.shifts) && a.flips.equal(b.flips));
  EXPECT_FALSE(a.shifts.equal(c.shifts));
  EXPECT_EQ(a.shifts.min().item<int64_t>(), 0);
  EXPECT_EQ(a.shifts.max().item<int64_t>(), 2 * ld::kMaxShift);
}

TEST(TaskData, SplitsAreDisjointNormalizedAndReproducible) {
  if (!std::ifstream(std::string(ld::kFashionMnistDir) + "/train-images-idx3-ubyte.gz").good())
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  ld::DataConfig config;
  config.val_fraction = 0.1;
  config.split_seed = 3;
  const auto task = ld::load_task(config);
  EXPECT_EQ(task.train.labels.numel(), 54000);
  EXPECT_EQ(task.val.labels.numel(), 6000);
  EXPECT_NEAR(config.mean, ld::kFashionMnistMean, 0.002);
  EXPECT_NEAR(config.std, ld::kFashionMnistStd, 0.002);
  EXPECT_NEAR(task.train.inputs.tensor().mean().item<double>(), 0.0, 1e-3);
  const auto val = ld::load_split(config, "val");
  EXPECT_TRUE(val.inputs.tensor().equal(task.val.inputs.tensor()));
  const auto test = ld::load_split(config, "test");
  EXPECT_EQ(test.labels.numel(), 10000);
  EXPECT_NE(error_message([&] { ld::load_split(config, "holdout"); }).find("'holdout'"),
            std::string::npos);
  ld::DataConfig idx;
  idx.dataset = ld::Dataset::idx;
  EXPECT_NE(error_message([&] { ld::load_task(idx); }).find("data.dir"), std::string::npos);
  idx.dir = "/nonexistent/folder";
  EXPECT_NE(error_message([&] { ld::load_task(idx); }).find("/nonexistent/folder"),
            std::string::npos);
}
