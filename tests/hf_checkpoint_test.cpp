// Hugging Face checkpoints: our forward pass against what transformers computed for the fixtures
// (tests/fixtures/hf, made by scripts/hf_fixtures.py), the export layout, sharded checkpoints,
// clear errors, image preprocessing, and the import / export / train --init commands.
#include <fstream>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/safetensors.h"
#include "layerwise/data/hf_image_processor.h"
#include "layerwise/data/text_codec.h"
#include "layerwise/model/hf_checkpoint.h"
#include "layerwise/model/text_models.h"
#include "layerwise/model/weights.h"
#include "layerwise/train/pretrained.h"
#include "test_util.h"

namespace lw = layerwise;
namespace lm = layerwise::model;
using layerwise::testing::relative_error;
using lw::testing::error_message;
using lw::testing::fixture;
using lw::testing::run_cli;
using lw::testing::temp_dir;

namespace {

std::string hf_fixture(const std::string& name) {
  return fixture("hf/" + name);
}

constexpr double kParity = 1e-5;  // the bound, float32

void copy_file(const std::string& from, const std::string& to) {
  lw::write_file_atomic(to, lw::read_file(from));
}

// A copy of fixture `name` with its tensors changed by `edit` and its config by `edit_config`.
template <typename EditTensors, typename EditConfig>
std::string edited_fixture(const std::string& name, const std::string& tag, EditTensors edit,
                           EditConfig edit_config) {
  const auto dir = temp_dir("hf_" + tag);
  auto tensors = lw::read_safetensors(hf_fixture(name + "/model.safetensors")).tensors;
  edit(tensors);
  lw::write_safetensors(dir + "/model.safetensors", tensors);
  auto config = lw::testing::read_json(hf_fixture(name + "/config.json"));
  edit_config(config);
  lw::write_file_atomic(dir + "/config.json", config.dump(2));
  return dir;
}

auto no_change = [](auto&) {};

}  // namespace

TEST(HfCheckpoint, VitMatchesTransformers) {
  for (const std::string name : {"vit", "deit"}) {
    SCOPED_TRACE(name);
    auto imported = lm::import_hf(hf_fixture(name));
    const auto expected = lw::read_safetensors(hf_fixture(name + "/expected.safetensors"));
    torch::NoGradGuard no_grad;
    const auto hidden = imported.model->forward_layers(expected.at("pixel_values"));
    ASSERT_EQ(int64_t(hidden.size()), imported.model->n_layers() + 1);
    for (size_t i = 0; i < hidden.size(); ++i)
      EXPECT_LT(relative_error(hidden[i], expected.at(lw::str_cat("hidden_states.", i))), kParity)
          << "layer " << i;
    const auto logits = imported.model->forward(expected.at("pixel_values"));
    EXPECT_LT(relative_error(logits, expected.at("logits")), kParity);
    EXPECT_TRUE(imported.notes.empty()) << imported.notes[0];
  }
}

TEST(HfCheckpoint, BertMatchesTransformersWithTokenTypesAndPadding) {
  auto imported = lm::import_hf(hf_fixture("bert"));
  auto& model = dynamic_cast<lm::TextEncoderImpl&>(*imported.model);
  const auto expected = lw::read_safetensors(hf_fixture("bert/expected.safetensors"));
  const auto ids = expected.at("input_ids");
  torch::NoGradGuard no_grad;
  // The model's own padding mask is transformers' attention mask.
  const auto mask = model.token_mask(ids);
  ASSERT_TRUE(torch::equal(mask, expected.at("attention_mask").to(torch::kBool)));
  std::vector<torch::Tensor> hidden = {model.embed_tokens(ids, expected.at("token_type_ids"))};
  for (int64_t l = 1; l <= model.n_layers(); ++l)
    hidden.push_back(model.block(l, hidden.back(), mask));
  for (size_t i = 0; i < hidden.size(); ++i)
    EXPECT_LT(relative_error(hidden[i], expected.at(lw::str_cat("hidden_states.", i))), kParity)
        << "layer " << i;
  const auto logits = model.head(model.pool(hidden.back(), mask));
  EXPECT_LT(relative_error(logits, expected.at("logits")), kParity);
}

TEST(HfCheckpoint, Gpt2MatchesTransformersAtRealTokens) {
  auto imported = lm::import_hf(hf_fixture("gpt2"));
  auto& model = *imported.model;
  const auto expected = lw::read_safetensors(hf_fixture("gpt2/expected.safetensors"));
  const auto ids = expected.at("input_ids");
  // GPT-2 has no padding id: right padding never reaches real tokens through causal attention,
  // so we compare where transformers' attention mask is 1.
  const auto real = expected.at("attention_mask").to(torch::kBool);  // (B, T)
  EXPECT_FALSE(model.token_mask(ids).defined());
  torch::NoGradGuard no_grad;
  auto hidden = model.forward_layers(ids);
  hidden.back() = model.final_norm(hidden.back());  // transformers reports layer L after ln_f
  for (size_t i = 0; i < hidden.size(); ++i)
    EXPECT_LT(relative_error(hidden[i].index({real}),
                             expected.at(lw::str_cat("hidden_states.", i)).index({real})),
              kParity)
        << "layer " << i;
  const auto logits = model.forward(ids);  // (B, T, V): the tied head at every position
  EXPECT_LT(relative_error(logits.index({real}), expected.at("logits").index({real})), kParity);
}

TEST(HfCheckpoint, ExportWritesTheSameLayoutBack) {
  for (const std::string name : {"vit", "deit", "bert", "gpt2"}) {
    SCOPED_TRACE(name);
    auto imported = lm::import_hf(hf_fixture(name));
    const auto out = temp_dir("hf_export_" + name) + "/model";
    lm::export_hf(*imported.model, out);
    const auto original = lw::read_safetensors(hf_fixture(name + "/model.safetensors"));
    const auto exported = lw::read_safetensors(out + "/model.safetensors");
    EXPECT_EQ(exported.metadata.at("format"), "pt");  // transformers requires it
    ASSERT_EQ(exported.tensors.size(), original.tensors.size());
    for (const auto& [tensor_name, tensor] : original.tensors)
      EXPECT_TRUE(torch::equal(exported.at(tensor_name), tensor)) << tensor_name;
    // The exported config describes the same model.
    const auto again = lm::read_hf_config(out);
    EXPECT_EQ(lm::to_json(again.model), lm::to_json(imported.model->config()));
    EXPECT_FALSE(lw::file_exists(out + ".partial/config.json"));
  }
}

TEST(HfCheckpoint, ShardedCheckpointLoadsLikeOneFile) {
  const auto dir = temp_dir("hf_sharded");
  copy_file(hf_fixture("vit/config.json"), dir + "/config.json");
  const auto tensors = lw::read_safetensors(hf_fixture("vit/model.safetensors")).tensors;
  std::vector<std::pair<std::string, torch::Tensor>> first, second;
  nlohmann::json map = nlohmann::json::object();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const bool one = i % 2 == 0;
    (one ? first : second).push_back(tensors[i]);
    map[tensors[i].first] =
        one ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  lw::write_safetensors(dir + "/model-00001-of-00002.safetensors", first);
  lw::write_safetensors(dir + "/model-00002-of-00002.safetensors", second);
  lw::write_file_atomic(
      dir + "/model.safetensors.index.json",
      nlohmann::json{{"metadata", {{"total_size", 0}}}, {"weight_map", map}}.dump());
  auto sharded = lm::import_hf(dir);
  auto single = lm::import_hf(hf_fixture("vit"));
  const auto pixels =
      lw::read_safetensors(hf_fixture("vit/expected.safetensors")).at("pixel_values");
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(sharded.model->forward(pixels), single.model->forward(pixels)));

  // A shard that lacks a tensor the index promises is named.
  lw::write_safetensors(dir + "/model-00002-of-00002.safetensors",
                        {second.begin(), second.end() - 1});
  EXPECT_NE(error_message([&] { lm::import_hf(dir); }).find(second.back().first),
            std::string::npos);
}

TEST(HfCheckpoint, ClearErrorsNameWhatIsWrong) {
  using Tensors = std::vector<std::pair<std::string, torch::Tensor>>;
  // A missing tensor.
  auto dir = edited_fixture(
      "bert", "missing",
      [](Tensors& t) {
        t.erase(std::remove_if(t.begin(), t.end(),
                               [](const auto& x) {
                                 return x.first == "bert.encoder.layer.1.attention.self.key.weight";
                               }),
                t.end());
      },
      no_change);
  auto message = error_message([&] { lm::import_hf(dir); });
  EXPECT_NE(message.find("'bert.encoder.layer.1.attention.self.key.weight' is missing"),
            std::string::npos)
      << message;
  // A tensor with no place in the model.
  dir = edited_fixture(
      "vit", "extra",
      [](Tensors& t) { t.emplace_back("vit.encoder.layer.7.extra", torch::ones({2})); }, no_change);
  message = error_message([&] { lm::import_hf(dir); });
  EXPECT_NE(message.find("'vit.encoder.layer.7.extra' has no place"), std::string::npos) << message;
  // A config that does not fit the tensors.
  dir = edited_fixture("gpt2", "shape", no_change, [](nlohmann::json& c) { c["n_inner"] = 64; });
  message = error_message([&] { lm::import_hf(dir); });
  EXPECT_NE(message.find("mlp.c_fc.weight"), std::string::npos) << message;
  // Architectures and settings we do not compute.
  dir = edited_fixture("bert", "arch", no_change, [](nlohmann::json& c) {
    c["architectures"] = {"BertForQuestionAnswering"};
  });
  message = error_message([&] { lm::import_hf(dir); });
  EXPECT_NE(message.find("BertForQuestionAnswering is not supported"), std::string::npos)
      << message;
  dir =
      edited_fixture("vit", "act", no_change, [](nlohmann::json& c) { c["hidden_act"] = "relu"; });
  message = error_message([&] { lm::import_hf(dir); });
  EXPECT_NE(message.find("hidden_act 'relu' is not supported"), std::string::npos) << message;
  message = error_message([] { lm::import_hf(temp_dir("hf_empty")); });
  EXPECT_NE(message.find("no config.json"), std::string::npos) << message;
}

TEST(HfCheckpoint, BareModelGetsAFreshClassifier) {
  using Tensors = std::vector<std::pair<std::string, torch::Tensor>>;
  // A ViTModel: no "vit." prefix, no classifier, and a pooler its classifier head does not use.
  const auto dir = edited_fixture(
      "vit", "bare",
      [](Tensors& t) {
        Tensors bare;
        for (auto& [name, tensor] : t)
          if (name.rfind("vit.", 0) == 0) bare.emplace_back(name.substr(4), tensor);
        bare.emplace_back("pooler.dense.weight", torch::zeros({32, 32}));
        bare.emplace_back("pooler.dense.bias", torch::zeros({32}));
        t = bare;
      },
      [](nlohmann::json& c) { c["architectures"] = {"ViTModel"}; });
  auto bare = lm::import_hf(dir);
  auto full = lm::import_hf(hf_fixture("vit"));
  ASSERT_EQ(bare.notes.size(), 2u);
  EXPECT_NE(bare.notes[0].find("classifier.weight"), std::string::npos) << bare.notes[0];
  EXPECT_NE(bare.notes[1].find("pooler.dense.weight"), std::string::npos) << bare.notes[1];
  const auto pixels =
      lw::read_safetensors(hf_fixture("vit/expected.safetensors")).at("pixel_values");
  torch::NoGradGuard no_grad;
  const auto a = bare.model->forward_layers(pixels), b = full.model->forward_layers(pixels);
  EXPECT_TRUE(torch::equal(a.back(), b.back()));  // the same encoder
  // Asking for another number of classes replaces a checkpoint's classifier too.
  auto five = lm::import_hf(hf_fixture("vit"), 5);
  EXPECT_EQ(five.model->forward(pixels).size(1), 5);
}

TEST(HfCheckpoint, ExportRefusesWhatTransformersCannotHold) {
  auto config = lm::vit_preset("tiny");
  config.pool = lm::Pooling::mean;
  auto model = lm::make_model(config);
  EXPECT_NE(error_message([&] {
              lm::export_hf(*model, temp_dir("hf_refuse") + "/a");
            }).find("pool 'mean'"),
            std::string::npos);
  auto encoder = lm::text_preset("encoder-tiny");
  encoder.vocab_size = 300;
  EXPECT_NE(error_message([&] { lm::hf_config_json(encoder, {}); }).find("bert-tiny"),
            std::string::npos);
  auto decoder = lm::text_preset("decoder-tiny");
  decoder.vocab_size = decoder.n_classes = 300;
  EXPECT_NE(error_message([&] { lm::hf_config_json(decoder, {}); }).find("--tie-embeddings"),
            std::string::npos);
  auto multi = lm::vit_preset("tiny");
  multi.heads = lm::HeadMode::per_layer;
  EXPECT_NE(error_message([&] { lm::hf_config_json(multi, {}); }).find("exit heads"),
            std::string::npos);
  // A folder named with a trailing slash is the same folder.
  const auto slash = temp_dir("hf_slash") + "/out/";
  lm::export_hf(*lm::make_model(lm::vit_preset("tiny")), slash);
  EXPECT_TRUE(lw::file_exists(slash + "config.json"));
  // An existing, non-empty folder is never overwritten.
  const auto dir = temp_dir("hf_nonempty");
  lw::write_file_atomic(dir + "/keep.txt", "mine");
  auto vit = lm::make_model(lm::vit_preset("tiny"));
  EXPECT_NE(error_message([&] { lm::export_hf(*vit, dir); }).find("not empty"), std::string::npos);
  EXPECT_EQ(lw::read_file(dir + "/keep.txt"), "mine");
}

TEST(HfCheckpoint, BertPresetRoundTripsThroughTheLayout) {
  auto config = lm::text_preset("bert-tiny");
  config.vocab_size = 300;
  config.n_classes = 3;
  torch::manual_seed(3);
  auto model = lm::make_model(config);
  const auto dir = temp_dir("hf_bert_preset") + "/out";
  lm::HfExportOptions options;
  options.class_names = {"a", "b", "c"};
  lm::export_hf(*model, dir, options);
  auto back = lm::import_hf(dir);
  EXPECT_EQ(back.hf.class_names, (std::vector<std::string>{"a", "b", "c"}));
  const auto ids = torch::randint(5, 300, {2, 9}, torch::kInt64);
  torch::NoGradGuard no_grad;
  model->eval();
  EXPECT_TRUE(torch::equal(model->forward(ids), back.model->forward(ids)));
}

TEST(HfImageProcessor, MatchesTheProcessorWithinOneGreyLevel) {
  const auto p = lw::data::read_hf_image_processor(hf_fixture("vit"));
  EXPECT_EQ(p.size, (std::vector<int64_t>{28, 28}));
  const auto expected = lw::read_safetensors(hf_fixture("vit/preprocess.safetensors"));
  const auto image = expected.at("image").permute({2, 0, 1}).unsqueeze(0);  // (1, 1, 32, 32)
  const auto ours = lw::data::preprocess_images(p, image);
  const auto& theirs = expected.at("pixel_values");
  ASSERT_EQ(ours.sizes(), theirs.sizes());
  // Pillow rounds each resampling pass to 8 bits; we follow its fixed point. At most one grey
  // level apart (1/255/std), and nearly all pixels equal.
  const double level = 1.0 / 255.0 / p.std[0];
  EXPECT_LE(lw::testing::max_diff(ours, theirs), level + 1e-5);
  const double equal = (ours - theirs).abs().lt(1e-4).to(torch::kFloat64).mean().item<double>();
  EXPECT_GT(equal, 0.97) << "share of equal pixels";  // 98% measured
}

#ifdef LAYERWISE_HAS_ICU  // the Hugging Face tokenizers need ICU
TEST(TextCodec, WordPieceFramesDocumentsLikeBert) {
  const auto run = temp_dir("codec_wordpiece");
  copy_file(fixture("hf/tokenizers/wordpiece/vocab.txt"), run + "/vocab.txt");
  lw::data::DataConfig c;
  c.tokenizer = lw::data::TokenizerKind::wordpiece;
  const auto codec = lw::data::run_text_codec(c, run, nullptr);
  const auto cases = lw::testing::read_json(fixture("hf/tokenizers/cases.json"));
  const auto& want = cases["wordpiece_transformers"][1];  // [CLS] ... [SEP]
  auto ids = codec.encode(cases["texts"][1].get<std::string>(), -1);
  ids.insert(ids.begin(), codec.first);
  ids.push_back(codec.last);
  EXPECT_EQ(ids, want.get<std::vector<int64_t>>());
  EXPECT_EQ(codec.encode(cases["texts"][1].get<std::string>(), 3).size(), 3u);
  c.tokenizer = lw::data::TokenizerKind::gpt2;
  EXPECT_NE(error_message([&] { lw::data::run_text_codec(c, run, nullptr); }).find("vocab.json"),
            std::string::npos);
}
#endif

TEST(Pretrained, CopyKeepsTheEncoderAndRenewsAnotherClassifier) {
  torch::manual_seed(1);
  auto source = lm::make_model(lm::vit_preset("tiny"));
  auto config = lm::vit_preset("tiny");
  config.n_classes = 5;
  config.heads = lm::HeadMode::per_layer;
  torch::manual_seed(2);
  auto target = lm::make_model(config);
  const auto note = lw::train::copy_pretrained(*source, *target, false);
  EXPECT_NE(note.find("classifier.weight"), std::string::npos);
  EXPECT_NE(note.find("exit_heads.0.fc.weight"), std::string::npos);
  const auto from = lm::named_weights(*source);
  const auto to = lm::named_weights(*target);
  for (const auto& [name, tensor] : to) {
    if (name.rfind("classifier.", 0) == 0 || name.rfind("exit_heads.", 0) == 0) continue;
    const auto it =
        std::find_if(from.begin(), from.end(), [&](const auto& x) { return x.first == name; });
    ASSERT_NE(it, from.end()) << name;
    EXPECT_TRUE(torch::equal(tensor, it->second)) << name;
  }
  // Same class count: the classifier is kept unless a fresh one is asked for.
  auto same = lm::make_model(lm::vit_preset("tiny"));
  EXPECT_EQ(lw::train::copy_pretrained(*source, *same, false), "");
  EXPECT_NE(lw::train::copy_pretrained(*source, *same, true).find("classifier"), std::string::npos);
}

TEST(HfCommands, ImportEvalExportAndFineTune) {
  if (!lw::testing::fashion_mnist_installed()) GTEST_SKIP() << "dataset-fashion-mnist missing";
  const auto dir = temp_dir("hf_commands");
  // The ViT fixture reads 1 x 28 x 28 images into 10 classes: Fashion-MNIST's shape.
  auto r = run_cli("-q import " + hf_fixture("vit") + " --out " + dir + "/run");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto config = lw::testing::read_json(dir + "/run/config.json");
  // preprocessor_config.json: the size and normalization the checkpoint's processor applies
  EXPECT_EQ(config["data"]["channel_mean"], nlohmann::json({0.5}));
  EXPECT_EQ(config["data"]["channel_std"], nlohmann::json({0.25}));
  EXPECT_EQ(config["data"]["resize"], nlohmann::json({28, 28}));
  r = run_cli("-q eval " + dir + "/run --samples 64");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(lw::testing::read_json(dir + "/run/eval.json")["accuracy"].size(), 3u);
  // Importing over an existing run is refused and leaves it as it was.
  r = run_cli("-q import " + hf_fixture("vit") + " --out " + dir + "/run");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("not empty"), std::string::npos) << r.output;
  // A checkpoint that cannot be read leaves no run folder behind.
  r = run_cli("-q import " + hf_fixture("bert") + " --out " + dir + "/bert");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("no vocab.txt"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/bert"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/bert.partial"));
  // Fine-tune the imported model on five classes, aligned, then export the result.
  r = run_cli("-q train --init " + dir +
              "/run --classes 5,6,7,8,9 --objective aligned --epochs 1 "
              "--train-limit 256 --val-limit 64 --batch-size 64 --stop-after 2 --out " +
              dir + "/ft");
  ASSERT_EQ(r.code, 0) << r.output;
  // Resuming needs the checkpoint only, not the model it started from.
  std::filesystem::rename(dir + "/run", dir + "/run-moved");
  r = run_cli("-q train --resume " + dir + "/ft");
  ASSERT_EQ(r.code, 0) << r.output;
  std::filesystem::rename(dir + "/run-moved", dir + "/run");
  const auto ft = lw::testing::read_json(dir + "/ft/config.json");
  EXPECT_EQ(ft["model"]["n_classes"], 5);
  EXPECT_EQ(ft["train"]["init"], dir + "/run");
  EXPECT_EQ(ft["data"]["channel_std"], nlohmann::json({0.25}));  // as the model was trained
  r = run_cli("-q export " + dir + "/ft --out " + dir + "/hf");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto exported = lw::testing::read_json(dir + "/hf/config.json");
  EXPECT_EQ(exported["architectures"][0], "ViTForImageClassification");
  EXPECT_EQ(exported["id2label"]["0"], "Sandal");
  // The run's preprocessing goes with it: import reads the same pipeline back.
  const auto processor = lw::data::read_hf_image_processor(dir + "/hf");
  EXPECT_EQ(processor.std, std::vector<double>{0.25});
  EXPECT_EQ(processor.size, (std::vector<int64_t>{28, 28}));
  const auto reference = lw::read_safetensors(dir + "/hf/layerwise_reference.safetensors");
  auto back = lm::import_hf(dir + "/hf");
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(back.model->forward(reference.at("inputs")), reference.at("logits")));
  // Architecture flags do not mix with --init.
  r = run_cli("-q train --init " + dir + "/run --layers 4 --out " + dir + "/bad");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("model.n_layers (--layers) cannot change"), std::string::npos)
      << r.output;
}

#ifdef LAYERWISE_HAS_ICU
TEST(HfCommands, TextImportsReadDataWithTheCheckpointTokenizer) {
  const auto dir = temp_dir("hf_text");
  const auto cases = lw::testing::read_json(fixture("hf/tokenizers/cases.json"));
  std::string jsonl, text;
  for (int repeat = 0; repeat < 8; ++repeat)
    for (size_t i = 0; i < cases["texts"].size(); ++i) {
      const auto t = cases["texts"][i].get<std::string>() + " " + std::to_string(repeat);
      jsonl += nlohmann::json{{"text", t}, {"label", i % 2 ? "odd" : "even"}}.dump() + "\n";
      text += t + "\n\n";
    }
  lw::write_file_atomic(dir + "/data.jsonl", jsonl);
  lw::write_file_atomic(dir + "/data.txt", text);

  // A BERT-form encoder over the fixture's WordPiece vocabulary, exported as transformers would
  // save it, with its vocab.txt beside it.
  auto bert = lm::text_preset("bert-tiny");
  bert.vocab_size = 300;
  bert.n_classes = 2;
  lm::export_hf(*lm::make_model(bert), dir + "/bert");
  copy_file(fixture("hf/tokenizers/wordpiece/vocab.txt"), dir + "/bert/vocab.txt");
  auto r = run_cli("-q import " + dir + "/bert --dataset jsonl --data-dir " + dir +
                   "/data.jsonl --max-len 24 --out " + dir + "/bert-run");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(lw::testing::read_json(dir + "/bert-run/config.json")["data"]["tokenizer"],
            "wordpiece");
  r = run_cli("-q eval " + dir + "/bert-run");
  ASSERT_EQ(r.code, 0) << r.output;
  // and fine-tunes from the Hugging Face folder directly, keeping its tokenizer
  r = run_cli("-q train --init " + dir + "/bert --dataset jsonl --data-dir " + dir +
              "/data.jsonl --max-len 24 --objective aligned --epochs 1 --batch-size 16 --out " +
              dir + "/bert-ft");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(lw::file_exists(dir + "/bert-ft/vocab.txt"));

  // A GPT-2 over the fixture's byte-level BPE reads documents joined by <|endoftext|>.
  auto gpt2 = lm::text_preset("decoder-tiny");
  gpt2.vocab_size = gpt2.n_classes = 400;
  gpt2.tie_embeddings = true;
  lm::export_hf(*lm::make_model(gpt2), dir + "/gpt2");
  copy_file(fixture("hf/tokenizers/bpe/vocab.json"), dir + "/gpt2/vocab.json");
  copy_file(fixture("hf/tokenizers/bpe/merges.txt"), dir + "/gpt2/merges.txt");
  r = run_cli("-q import " + dir + "/gpt2 --dataset text --data-dir " + dir + "/data.txt --out " +
              dir + "/gpt2-run");
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_cli("-q eval " + dir + "/gpt2-run");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(lw::testing::read_json(dir + "/gpt2-run/eval.json")["accuracy"].size(), 2u);
}
#endif
