// The text encoder and decoder on the model interface: padding never matters, causality, tied
// embeddings, parameter names, the per-token objective against a hand computation, configuration
// errors, and short real trainings on the SpamAssassin corpus.
#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "layerwise/core/atomic_file.h"
#include "layerwise/data/task_data.h"
#include "layerwise/data/text_corpus.h"
#include "layerwise/data/tokenizer.h"
#include "layerwise/model/config.h"
#include "layerwise/model/layered_model.h"
#include "layerwise/model/text_models.h"
#include "layerwise/train/objective.h"
#include "layerwise/train/trainer.h"
#include "layerwise/workflow/run_eval.h"
#include "test_util.h"

namespace lm = layerwise::model;
namespace lt = layerwise::train;
namespace ld = layerwise::data;
using layerwise::testing::error_message;
using layerwise::testing::max_diff;
using layerwise::testing::contains;

namespace {

lm::ModelConfig text_config(const std::string& preset, lm::HeadMode heads = lm::HeadMode::shared) {
  auto config = lm::text_preset(preset);
  config.vocab_size = 50;
  config.n_layers = 3;
  config.n_classes = config.arch == lm::Arch::text_decoder ? 50 : 3;
  config.heads = heads;
  return config;
}

// Random ids from the non-special range, shape (B, T).
torch::Tensor random_ids(int64_t batch, int64_t length, int64_t vocab = 50) {
  return torch::randint(ld::kFirstByteId, vocab, {batch, length}, torch::kInt64);
}

bool spam_assassin_installed() {
  std::error_code error;
  return std::filesystem::is_directory(ld::default_spam_assassin_dir() + "/spam-1", error);
}

}  // namespace

TEST(TextModel, PaddingNeverChangesRealPositions) {
  torch::manual_seed(1);
  for (const auto pool : {lm::Pooling::cls, lm::Pooling::mean}) {
    auto config = text_config("encoder-tiny");
    config.pool = pool;
    auto model = lm::make_model(config);
    model->eval();
    auto ids = random_ids(2, 7);
    ids.select(1, 0).fill_(ld::kClsId);
    const auto padded = torch::cat({ids, torch::full({2, 5}, lm::kPadToken, torch::kInt64)}, 1);
    const auto short_hidden = model->forward_layers(ids);
    const auto long_hidden = model->forward_layers(padded);
    for (int64_t l = 0; l <= 3; ++l) {
      EXPECT_LT(max_diff(short_hidden[l], long_hidden[l].slice(1, 0, 7)), 1e-5)
          << layerwise::enum_name(pool) << l;
      EXPECT_LT(max_diff(model->pool(short_hidden[l], model->token_mask(ids)),
                         model->pool(long_hidden[l], model->token_mask(padded))),
                1e-5)
          << layerwise::enum_name(pool) << " layer " << l;
    }
    EXPECT_LT(max_diff(model->forward(ids), model->forward(padded)), 1e-5)
        << layerwise::enum_name(pool);
  }
}

TEST(TextModel, PaddingMasksAttentionInARaggedBatch) {
  // Each row of a padded batch equals that row run alone, unpadded.
  torch::manual_seed(2);
  auto model = lm::make_model(text_config("encoder-tiny"));
  model->eval();
  auto a = random_ids(1, 9), b = random_ids(1, 4);
  const auto batch =
      torch::cat({a, torch::cat({b, torch::full({1, 5}, lm::kPadToken, torch::kInt64)}, 1)});
  const auto together = model->forward(batch);
  EXPECT_LT(max_diff(together[0], model->forward(a)[0]), 1e-5);
  EXPECT_LT(max_diff(together[1], model->forward(b)[0]), 1e-5);
}

TEST(TextModel, DecoderPositionIgnoresLaterTokens) {
  torch::manual_seed(3);
  auto model = lm::make_model(text_config("decoder-tiny"));
  model->eval();
  const auto ids = random_ids(2, 10);
  auto changed = ids.clone();
  changed.slice(1, 6).copy_(random_ids(2, 4));
  const auto before = model->forward_layers(ids), after = model->forward_layers(changed);
  for (int64_t l = 1; l <= 3; ++l) {
    EXPECT_LT(max_diff(before[l].slice(1, 0, 6), after[l].slice(1, 0, 6)), 1e-6) << l;
    EXPECT_GT(max_diff(before[l].slice(1, 6), after[l].slice(1, 6)), 1e-4) << l;
  }
  EXPECT_EQ(model->forward(ids).sizes(), torch::IntArrayRef({2, 10, 50}));  // a head per position
}

TEST(TextModel, ParameterNamesAndTiedEmbeddings) {
  auto untied = lm::make_model(text_config("decoder-tiny"));
  auto names = untied->named_parameters().keys();
  for (const auto* name : {"tok_embed.weight", "pos_embed", "blocks.0.attn.qkv.weight",
                           "final_norm.weight", "classifier.weight"})
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;

  auto config = text_config("decoder-tiny");
  config.tie_embeddings = true;
  auto tied = lm::make_model(config);
  names = tied->named_parameters().keys();
  EXPECT_EQ(std::count_if(names.begin(), names.end(),
                          [](const std::string& n) { return n.rfind("classifier", 0) == 0; }),
            0);
  auto& decoder = dynamic_cast<lm::TextDecoderImpl&>(*tied);
  const auto z = torch::randn({4, 32});
  const auto expected = torch::linear(tied->final_norm(z), decoder.tok_embed->weight);
  EXPECT_LT(max_diff(tied->head(z), expected), 1e-6);
  tied->head(z).sum().backward();  // the head's gradient reaches the embedding
  EXPECT_GT(decoder.tok_embed->weight.grad().abs().sum().item<double>(), 0);
}

TEST(TextModel, PerTokenObjectiveMatchesHandComputation) {
  torch::manual_seed(4);
  auto model = lm::make_model(text_config("decoder-tiny"));
  const auto ids = random_ids(3, 6);
  auto labels = random_ids(3, 6);
  labels[0][5] = lt::kIgnoreLabel;  // not scored
  labels[2][0] = lt::kIgnoreLabel;
  const std::vector<double> w = {0.2, 0.3, 0.5};
  const auto weights = torch::tensor(w, torch::kFloat64).to(torch::kFloat32);
  const auto hidden = model->forward_layers(ids);
  const auto scored = labels.ne(lt::kIgnoreLabel);
  auto layer_ce = [&](const torch::Tensor& logits) {  // (B, T, V): mean CE over scored positions
    const auto log_p = logits.log_softmax(-1);
    const auto picked = log_p.gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1);
    return -(picked * scored).sum() / scored.sum();
  };
  torch::Tensor expected = torch::zeros({});
  for (int64_t l = 1; l <= 3; ++l)
    expected = expected + w[l - 1] * layer_ce(model->head(hidden[l]));
  const auto result = lt::objective_loss(*model, lt::Objective::aligned, weights, ids, labels);
  EXPECT_NEAR(result.loss.item<double>(), expected.item<double>(), 1e-5);
  EXPECT_EQ(result.items.item<int64_t>(), 16);
  const auto standard = lt::objective_loss(*model, lt::Objective::standard, weights, ids, labels);
  EXPECT_NEAR(standard.loss.item<double>(), layer_ce(model->head(hidden[3])).item<double>(), 1e-5);
  // Class labels (B) do not fit a per-token model.
  EXPECT_TRUE(contains(error_message([&] {
                         lt::objective_loss(*model, lt::Objective::aligned, weights, ids,
                                            torch::zeros({3, 2, 2}, torch::kInt64));
                       }),
                       "labels of shape"));
}

TEST(TextModel, ConfigRoundTripAndErrors) {
  auto config = text_config("decoder-small");
  config.tie_embeddings = true;
  EXPECT_EQ(lm::to_json(lm::model_config_from_json(lm::to_json(config))), lm::to_json(config));
  auto j = lm::to_json(config);
  j["n_classes"] = 7;
  EXPECT_TRUE(contains(error_message([&] { lm::model_config_from_json(j); }),
                       "must equal model.vocab_size"));
  j = lm::to_json(text_config("encoder-small"));
  j["pool"] = "max";
  EXPECT_TRUE(contains(error_message([&] { lm::model_config_from_json(j); }), "pool 'max'"));
  EXPECT_TRUE(contains(error_message([] { lm::model_preset("encoder-huge"); }), "encoder-huge"));
  for (const auto& name : lm::model_preset_names()) EXPECT_NO_THROW(lm::model_preset(name));
  auto model = lm::make_model(text_config("encoder-tiny"));
  EXPECT_TRUE(contains(error_message([&] { model->forward(random_ids(1, 65)); }), "max_len"));
  EXPECT_TRUE(contains(error_message([&] { model->forward(torch::zeros({1, 4})); }), "int64"));
}

TEST(TextModel, EncoderLearnsSpamOnTheRealCorpus) {
  if (!spam_assassin_installed()) GTEST_SKIP() << "run scripts/fetch_spam_assassin.sh first";
  const auto dir = layerwise::testing::temp_dir("text_encoder_run");
  lt::RunConfig config;
  config.model = lm::text_preset("encoder-tiny");
  config.data.dataset = layerwise::data::Dataset::spam_assassin;
  config.data.tokenizer = layerwise::data::TokenizerKind::byte;
  config.data.max_len = 64;
  config.data.train_limit = 1200;
  config.data.val_limit = 300;
  config.train.augment = layerwise::train::Augment::none;
  config.train.objective = lt::Objective::aligned;
  config.train.epochs = 3;
  config.train.batch_size = 32;
  config.train.lr = 2e-3;
  lt::TrainOptions options;
  options.quiet = true;
  const auto summary = lt::train_new_run(config, dir + "/run", options);
  EXPECT_TRUE(layerwise::file_exists(dir + "/run/tokenizer.json"));
  // Ham is ~69% of the corpus: the encoder must do clearly better than the majority class.
  ASSERT_EQ(summary.val_accuracy.size(), 2u);
  EXPECT_GT(summary.val_accuracy.back(), 0.8);
  layerwise::workflow::RunEvalOptions eval;
  eval.samples = 300;
  const auto result = layerwise::workflow::evaluate_run(dir + "/run", eval);
  EXPECT_EQ(result.at("accuracy").size(), 2u);
  EXPECT_EQ(result.at("n_samples"), 300);
  EXPECT_GT(result.at("final_accuracy").get<double>(), 0.8);
}

TEST(TextModel, DecoderLearnsOnTheRealCorpus) {
  if (!spam_assassin_installed()) GTEST_SKIP() << "run scripts/fetch_spam_assassin.sh first";
  const auto dir = layerwise::testing::temp_dir("text_decoder_run");
  lt::RunConfig config;
  config.model = lm::text_preset("decoder-tiny");
  config.data.dataset = layerwise::data::Dataset::spam_assassin;
  config.data.task = layerwise::data::Task::lm;
  config.data.tokenizer = layerwise::data::TokenizerKind::byte;
  config.data.max_len = 32;
  config.data.train_limit = 2000;
  config.data.val_limit = 300;
  config.train.augment = layerwise::train::Augment::none;
  config.train.objective = lt::Objective::aligned;
  config.train.epochs = 2;
  config.train.batch_size = 32;
  config.train.lr = 3e-3;
  lt::TrainOptions options;
  options.quiet = true;
  lt::train_new_run(config, dir + "/run", options);
  layerwise::workflow::RunEvalOptions eval;
  eval.samples = 200;
  const auto result = layerwise::workflow::evaluate_run(dir + "/run", eval);
  ASSERT_TRUE(result.contains("perplexity"));
  const double perplexity = result.at("perplexity")[1].get<double>();
  // Bytes: a uniform guess over the 260 ids has perplexity 260, an untrained model about that;
  // 125 steps of a 43k-parameter model reach ~35.
  EXPECT_LT(perplexity, 50.0);
  EXPECT_NEAR(perplexity, std::exp(result.at("loss")[1].get<double>()), 1e-6 * perplexity);
  EXPECT_EQ(result.at("n_samples"), 200 * 32);  // positions
  EXPECT_TRUE(result.contains("agreement_with_last"));
}
