// Configuration described once: the field tables' JSON round trips, strict types, ranges and
// command-line values; the precedence of presets, files and settings; run folders written by
// earlier versions; the run folder type.
#include <filesystem>
#include <fstream>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/config_fields.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/train/run_config.h"
#include "test_util.h"

namespace lt = layerwise::train;
namespace lm = layerwise::model;
namespace ld = layerwise::data;
using layerwise::testing::error_message;
using layerwise::testing::contains;
using nlohmann::json;

TEST(ConfigFields, WrittenFieldsRoundTripAndTextOnlyFieldsAreLeftOutForImages) {
  lt::TrainConfig train;
  train.epochs = 7;
  train.augment = lt::Augment::shift_flip;
  train.layer_weighting = lt::LayerWeighting::custom;
  train.layer_weights = {0.5, 0.5};
  const auto j = lt::to_json(train);
  EXPECT_EQ(j.at("augment"), "shift_flip");
  EXPECT_EQ(j.at("layer_weighting"), "custom");
  EXPECT_EQ(lt::to_json(lt::train_config_from_json(j)), j);

  ld::DataConfig images;
  EXPECT_FALSE(ld::to_json(images).contains("tokenizer"));
  EXPECT_FALSE(ld::to_json(images).contains("classes"));  // written only when set
  images.classes = {3, 4};
  EXPECT_EQ(ld::to_json(images).at("classes"), json({3, 4}));
  ld::DataConfig text;
  text.dataset = ld::Dataset::spam_assassin;
  EXPECT_EQ(ld::to_json(text).at("tokenizer"), "bpe");
  EXPECT_EQ(ld::to_json(text).at("dataset"), "spam-assassin");
  EXPECT_EQ(ld::to_json(ld::data_config_from_json(ld::to_json(text))), ld::to_json(text));
}

TEST(ConfigFields, ValuesOfTheWrongTypeAreRefusedNamingTheSetting) {
  const auto train_error = [](json j) {
    return error_message([&] { lt::train_config_from_json(j); });
  };
  EXPECT_PRED2(contains, train_error({{"epochs", 2.5}}), "train.epochs must be an integer");
  EXPECT_PRED2(contains, train_error({{"epochs", "3"}}), "train.epochs must be an integer");
  EXPECT_PRED2(contains, train_error({{"lr", true}}), "train.lr must be a number");
  EXPECT_PRED2(contains, train_error({{"bf16", 1}}), "train.bf16 must be true or false");
  EXPECT_PRED2(contains, train_error({{"seed", -1}}), "train.seed must be a non-negative integer");
  EXPECT_PRED2(contains, train_error({{"augment", "rotate"}}),
               "train.augment 'rotate' is not known; use none, flip or shift_flip");
  EXPECT_PRED2(contains, train_error({{"layer_weights", {1, "x"}}}),
               "train.layer_weights[1] must be a number");
  EXPECT_PRED2(contains, train_error({{"epoch", 3}}), "train: unknown setting 'epoch'");
  EXPECT_PRED2(contains, train_error(json::array()), "train settings must be a JSON object");
  // An integer too large for int64 is refused rather than wrapped.
  EXPECT_PRED2(contains, train_error(json::parse(R"({"epochs": 18446744073709551615})")),
               "train.epochs must be an integer");
  // Integers are numbers for real-valued settings.
  EXPECT_EQ(lt::train_config_from_json({{"lr", 1}}).lr, 1.0);
}

TEST(ConfigFields, RangesComeFromTheDescription) {
  lt::TrainConfig train;
  train.label_smoothing = 1;
  EXPECT_PRED2(contains, error_message([&] { lt::validate(train); }),
               "train.label_smoothing must be in [0, 1), got 1");
  train = {};
  train.lr = 0;
  EXPECT_PRED2(contains, error_message([&] { lt::validate(train); }), "train.lr must be > 0");
  train = {};
  train.min_lr = 2 * train.lr;
  EXPECT_PRED2(contains, error_message([&] { lt::validate(train); }),
               "train.min_lr must not exceed train.lr, got 0.002 and 0.001");
  auto model = lm::vit_preset("tiny");
  model.block.dropout = -0.5;
  EXPECT_PRED2(contains, error_message([&] { lm::validate(model); }),
               "model.dropout must be in [0, 1), got -0.5");
  ld::DataConfig data;
  data.val_fraction = 1;
  EXPECT_PRED2(contains, error_message([&] { ld::validate(data); }), "data.val_fraction");
}

TEST(ConfigFields, CommandLineTextIsReadAsTheSettingsType) {
  EXPECT_EQ(lt::setting_from_text("train.epochs", "12"), 12);
  EXPECT_EQ(lt::setting_from_text("train.lr", "3e-4"), 3e-4);
  EXPECT_EQ(lt::setting_from_text("train.objective", "multihead"), "multihead");
  EXPECT_EQ(lt::setting_from_text("data.classes", "0-2,7"), json({0, 1, 2, 7}));
  EXPECT_EQ(lt::setting_from_text("train.layer_weights", "0.25,0.75"), json({0.25, 0.75}));
  EXPECT_EQ(lt::setting_from_text("model.tie_embeddings", "true"), true);
  EXPECT_PRED2(contains, error_message([] { lt::setting_from_text("train.epochs", "3x"); }),
               "train.epochs: '3x' is not an integer");
  EXPECT_PRED2(contains, error_message([] { lt::setting_from_text("train.lr", "nan"); }),
               "train.lr: 'nan' is not a finite number");
  EXPECT_PRED2(contains, error_message([] { lt::setting_from_text("model.pool", "max"); }),
               "model.pool 'max' is not known; use cls or mean");
  EXPECT_PRED2(contains, error_message([] { lt::setting_from_text("train.epoch", "1"); }),
               "train: unknown setting 'epoch'");
  EXPECT_PRED2(contains, error_message([] { lt::setting_from_text("optim.lr", "1"); }),
               "unknown section");
  // A typo in a range is refused before anything is allocated; long numbers are not echoed whole.
  EXPECT_PRED2(contains,
               error_message([] { lt::setting_from_text("data.classes", "0-99999999999"); }),
               "lists more than");
  const auto long_number = std::string(300, '9');
  const auto message = error_message([&] { lt::setting_from_text("train.epochs", long_number); });
  EXPECT_PRED2(contains, message, "is not an integer");
  EXPECT_LT(message.size(), 120u);
}

TEST(ResolveRunConfig, PresetThenFileThenSettings) {
  lt::RunConfigSources sources;
  EXPECT_EQ(lt::resolve_run_config(sources).model.n_layers, 6);  // the small preset
  sources.file = {{"model", "tiny"}, {"train", {{"epochs", 4}, {"lr", 0.01}}}};
  sources.file_name = "my.json";
  auto c = lt::resolve_run_config(sources);
  EXPECT_EQ(c.model.n_layers, 2);
  EXPECT_EQ(c.train.epochs, 4);
  sources.settings = {{"train", {{"epochs", 9}}}, {"model", {{"n_layers", 3}}}};
  c = lt::resolve_run_config(sources);
  EXPECT_EQ(c.train.epochs, 9);  // the setting wins over the file
  EXPECT_EQ(c.train.lr, 0.01);   // the file wins over the default
  EXPECT_EQ(c.model.n_layers, 3);
  EXPECT_EQ(c.model.block.d_model, 32);  // the rest of the file's preset
  sources.preset = "small";              // a named preset replaces the file's model
  EXPECT_EQ(lt::resolve_run_config(sources).model.block.d_model, 96);

  sources.settings = json::object();
  sources.file = {{"train", {{"epochs", 0}}}};
  EXPECT_PRED2(contains, error_message([&] { lt::resolve_run_config(sources); }),
               "train.epochs must be >= 1, got 0");
  sources.settings = {{"train", {{"epochs", 2}}}};  // a flag may mend what the file got wrong
  EXPECT_EQ(lt::resolve_run_config(sources).train.epochs, 2);
  sources.file = {{"trian", {}}};
  EXPECT_PRED2(contains, error_message([&] { lt::resolve_run_config(sources); }),
               "my.json: unknown section 'trian'");
  sources.file = nullptr;
  sources.settings = {{"train", {{"fresh_head", true}}}};
  EXPECT_PRED2(contains, error_message([&] { lt::resolve_run_config(sources); }),
               "train.fresh_head goes with train.init");
  sources.settings = {{"train", {{"layer_weights", {1, 2}}}}};
  EXPECT_PRED2(contains, error_message([&] { lt::resolve_run_config(sources); }),
               "set it to custom");
}

TEST(ResolveRunConfig, TextModelsReadTextWithoutAugmentation) {
  lt::RunConfigSources sources;
  sources.preset = "decoder-tiny";
  auto c = lt::resolve_run_config(sources);
  EXPECT_EQ(c.data.dataset, ld::Dataset::spam_assassin);
  EXPECT_EQ(c.data.task, ld::Task::lm);
  EXPECT_EQ(c.train.augment, lt::Augment::none);
  EXPECT_EQ(c.data.max_len, c.model.max_len);
  sources.settings = {{"data", {{"max_len", 20}, {"dataset", "jsonl"}}}};
  c = lt::resolve_run_config(sources);
  EXPECT_EQ(c.model.max_len, 20);  // a new model is as long as its data
  EXPECT_EQ(c.data.max_len, 20);
  EXPECT_EQ(c.data.dataset, ld::Dataset::jsonl);
  sources.preset = "encoder-tiny";
  sources.settings = {{"train", {{"augment", "flip"}}}};
  c = lt::resolve_run_config(sources);
  EXPECT_EQ(c.data.task, ld::Task::classify);
  EXPECT_EQ(c.train.augment, lt::Augment::flip);  // kept; training refuses it with a clear line
}

TEST(ResolveRunConfig, AStartingModelKeepsItsArchitecture) {
  const auto dir = layerwise::testing::temp_dir("resolve_init");
  lt::RunConfig run;
  run.model = lm::vit_preset("tiny");
  run.data.mean = 0.25;
  run.data.std = 0.5;
  lt::write_run_config(dir, run);
  layerwise::RunDir(dir).write_state({3, 3, 1.0});
  lt::RunConfigSources sources;
  sources.init = dir;
  sources.settings = {{"model", {{"dropout", 0.1}}}, {"train", {{"fresh_head", true}}}};
  const auto c = lt::resolve_run_config(sources);
  EXPECT_EQ(c.model.n_layers, 2);
  EXPECT_EQ(c.model.block.dropout, 0.1);
  EXPECT_EQ(c.data.mean, 0.25);  // pixels normalized as the model was trained
  EXPECT_TRUE(c.train.fresh_head);
  EXPECT_TRUE(std::filesystem::path(c.train.init).is_absolute());
  sources.settings = {{"model", {{"d_model", 64}}}};
  EXPECT_PRED2(contains, error_message([&] { lt::resolve_run_config(sources); }),
               "model.d_model cannot change the architecture");
  sources.settings = json::object();
  sources.preset = "small";
  EXPECT_PRED2(contains, error_message([&] { lt::resolve_run_config(sources); }),
               "preset cannot change the architecture");
  layerwise::testing::remove_tree(dir);
}

// Every run folder committed under docs/results was written by an earlier version: each still
// loads, and writing it again keeps every setting it held (settings added since take defaults).
TEST(RunConfig, RunsWrittenByEarlierVersionsLoadUnchanged) {
  const std::string root = std::string(LAYERWISE_SOURCE_DIR) + "/docs/results";
  int checked = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.path().filename() != "config.json") continue;
    const auto dir = entry.path().parent_path().string();
    SCOPED_TRACE(dir);
    const auto original = layerwise::testing::read_json(entry.path().string());
    const auto again = lt::to_json(lt::read_run_config(dir));
    EXPECT_EQ(again.at("objective"), original.at("objective"));
    for (const char* section : {"model", "train", "data"})
      for (const auto& [name, value] : original.at(section).items())
        EXPECT_EQ(again.at(section).at(name), value) << section << "." << name;
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

TEST(RunDir, KnowsItsFilesAndWhetherARunFinished) {
  const auto dir = layerwise::testing::temp_dir("run_dir");
  const layerwise::RunDir run(dir + "/");  // a trailing slash names the same folder
  EXPECT_EQ(run.path(), dir);
  EXPECT_EQ(run.config(), dir + "/config.json");
  EXPECT_EQ(run.file("cos.csv"), dir + "/cos.csv");
  EXPECT_FALSE(run.has_config());
  EXPECT_FALSE(run.is_run());
  layerwise::write_file_atomic(run.config(), "{}");
  EXPECT_TRUE(run.has_config());
  EXPECT_FALSE(run.is_run());  // no checkpoint yet
  run.write_state({2, 5, 1.5});
  EXPECT_TRUE(run.is_run());
  EXPECT_FALSE(run.finished());
  EXPECT_EQ(run.read_state().total_steps, 5);
  run.write_state({5, 5, 2.0});
  EXPECT_TRUE(run.finished());
  EXPECT_EQ(layerwise::testing::read_json(run.trainer_state()).at("finished"), true);
  layerwise::write_file_atomic(run.trainer_state(), "{\"step\": \"x\"}");
  EXPECT_PRED2(contains, error_message([&] { run.read_state(); }),
               run.trainer_state() + ": not a trainer state");
  layerwise::testing::remove_tree(dir);
}
