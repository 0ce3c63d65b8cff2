// Elastic depth: the model cut after K blocks (model/truncate.h), what each depth costs
// (model/depth_cost.h), `layerwise export --depth K` in both formats, and the report's cost
// columns.
#include <algorithm>
#include <filesystem>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/safetensors.h"
#include "layerwise/model/depth_cost.h"
#include "layerwise/model/hf_checkpoint.h"
#include "layerwise/model/truncate.h"
#include "layerwise/report/page_parts.h"
#include "layerwise/train/checkpoint.h"
#include "layerwise/workflow/hf_transfer.h"
#include "test_util.h"

namespace lw = layerwise;
namespace lm = layerwise::model;
using lw::testing::read_json;
using lw::testing::run_cli;
using lw::testing::temp_dir;

namespace {

// Every kind of model the project builds, small: ViT, DeiT (distillation token), multi-head ViT,
// pre-LN encoder with mean pooling, BERT form (pooler, embedding norm, token types), tied
// decoder, multi-head tied decoder.
std::vector<std::pair<std::string, lm::ModelConfig>> small_configs() {
  auto vit = lm::vit_preset("tiny");
  vit.n_layers = 3;
  auto deit = vit;
  deit.distill_token = true;
  auto multihead = vit;
  multihead.heads = lm::HeadMode::per_layer;
  auto encoder = lm::text_preset("encoder-tiny");
  encoder.vocab_size = 300;
  encoder.n_classes = 3;
  encoder.pool = lm::Pooling::mean;
  auto bert = lm::text_preset("bert-tiny");
  bert.vocab_size = 300;
  bert.n_classes = 2;
  bert.n_layers = 3;
  auto decoder = lm::text_preset("decoder-tiny");
  decoder.vocab_size = decoder.n_classes = 200;
  decoder.tie_embeddings = true;
  auto multihead_decoder = decoder;
  multihead_decoder.heads = lm::HeadMode::per_layer;
  return {{"vit", vit},
          {"deit", deit},
          {"multihead vit", multihead},
          {"encoder", encoder},
          {"bert", bert},
          {"decoder", decoder},
          {"multihead decoder", multihead_decoder}};
}

torch::Tensor sample_inputs(const lm::ModelConfig& c) {
  torch::manual_seed(3);
  if (!c.is_text()) return torch::randn({5, c.in_channels, c.image_size, c.image_size});
  return torch::randint(1, c.vocab_size, {4, 12}, torch::kInt64);
}

// What `layerwise eval` reads at layer `layer` (inference/predict.cpp): the last head on every
// layer, or (multi-head) the layer's own head, on the pooled hidden state.
torch::Tensor layer_logits(lm::LayeredModel& model, const torch::Tensor& inputs, int64_t layer,
                           bool own_head) {
  torch::NoGradGuard no_grad;
  model.eval();
  const auto hidden = model.forward_layers(inputs, layer);
  const auto z = model.pool(hidden.back(), model.token_mask(inputs));
  return own_head ? model.head_at(z, layer) : model.head(z);
}

}  // namespace

TEST(DepthCost, ParametersAtEveryDepthAreThoseOfTheCutModel) {
  for (const auto& [name, config] : small_configs()) {
    SCOPED_TRACE(name);
    torch::manual_seed(0);
    // Depth L: the model itself, counted tensor by tensor.
    EXPECT_EQ(lm::depth_parameters(config, config.n_layers),
              lm::count_parameters(*lm::make_model(config)));
    for (int64_t k = 1; k <= config.n_layers; ++k)
      EXPECT_EQ(lm::depth_parameters(config, k),
                lm::count_parameters(*lm::make_model(lm::truncated_config(config, k))))
          << "depth " << k;
    const auto costs = lm::depth_costs(config);
    ASSERT_EQ(int64_t(costs.size()), config.n_layers);
    for (size_t k = 1; k < costs.size(); ++k) {  // deeper costs more
      EXPECT_GT(costs[k].flops, costs[k - 1].flops);
      EXPECT_GT(costs[k].parameters, costs[k - 1].parameters);
    }
  }
}

TEST(DepthCost, FlopsOfASmallConfigByHand) {
  lm::ModelConfig vit;  // 8 x 8 x 1 images, patch 4: 4 patches + the class token = 5 tokens
  vit.n_layers = 2;
  vit.image_size = 8;
  vit.patch_size = 4;
  vit.block.d_model = 8;
  vit.block.n_heads = 2;
  vit.block.d_ff = 16;
  vit.n_classes = 3;
  EXPECT_EQ(lm::sample_tokens(vit), 5);
  const auto one = lm::forward_flops(vit, 1);
  EXPECT_DOUBLE_EQ(one.embed, 2.0 * 4 * (1 * 4 * 4) * 8);  // 1024
  EXPECT_DOUBLE_EQ(one.qkv, 2.0 * 5 * 8 * 24);             // 1920
  EXPECT_DOUBLE_EQ(one.scores, 2.0 * 5 * 5 * 8);           // 400
  EXPECT_DOUBLE_EQ(one.values, 2.0 * 5 * 5 * 8);           // 400
  EXPECT_DOUBLE_EQ(one.out_proj, 2.0 * 5 * 8 * 8);         // 640
  EXPECT_DOUBLE_EQ(one.mlp, 2.0 * 5 * 8 * 16 * 2);         // 2560
  EXPECT_DOUBLE_EQ(one.heads, 2.0 * 8 * 3);                // 48
  EXPECT_DOUBLE_EQ(one.total(), 6992);
  EXPECT_DOUBLE_EQ(lm::forward_flops(vit, 2).total(), 6992 + 5920);  // one more block
  // The training objectives read a head after every layer.
  EXPECT_DOUBLE_EQ(lm::forward_flops(vit, 2, 0, 2).heads, 96);

  // A tied decoder over 4 tokens reads its head (vocabulary 10) at every position; its
  // embedding is a lookup.
  auto decoder = lm::text_preset("decoder-tiny");
  decoder.n_layers = 1;
  decoder.block.d_model = 8;
  decoder.block.n_heads = 2;
  decoder.block.d_ff = 16;
  decoder.vocab_size = decoder.n_classes = 10;
  decoder.max_len = 4;
  decoder.tie_embeddings = true;
  const auto lm_flops = lm::forward_flops(decoder, 1);
  EXPECT_DOUBLE_EQ(lm_flops.embed, 0);
  EXPECT_DOUBLE_EQ(lm_flops.heads, 4 * 2.0 * 8 * 10);  // 640
  EXPECT_DOUBLE_EQ(lm_flops.total(), 1536 + 256 + 256 + 512 + 2048 + 640);
  // The padded length a run's data uses, when given.
  EXPECT_DOUBLE_EQ(lm::forward_flops(decoder, 1, 2).scores, 2.0 * 2 * 2 * 8);

  EXPECT_NE(lw::testing::error_message([&] { lm::forward_flops(vit, 3); }).find("outside 1..2"),
            std::string::npos);
  EXPECT_NE(lw::testing::error_message([&] { lm::truncated_config(vit, 0); }).find("outside 1..2"),
            std::string::npos);
}

TEST(DepthCost, SiNumbersForTheReport) {
  EXPECT_EQ(lw::report::format_si(832), "832");
  EXPECT_EQ(lw::report::format_si(12345), "12.3 k");
  EXPECT_EQ(lw::report::format_si(1234567), "1.23 M");
  EXPECT_EQ(lw::report::format_si(999999), "1.00 M");
  EXPECT_EQ(lw::report::format_si(4.56e9), "4.56 G");
}

TEST(Truncate, TheCutModelComputesLayerKOfTheFullOne) {
  for (const auto& [name, config] : small_configs()) {
    SCOPED_TRACE(name);
    torch::manual_seed(1);
    auto full = lm::make_model(config);
    const auto inputs = sample_inputs(config);
    const bool own = config.heads == lm::HeadMode::per_layer;
    for (int64_t k = 1; k <= config.n_layers; ++k) {
      auto cut = lm::truncate_model(*full, k);
      EXPECT_EQ(cut->n_layers(), k);
      cut->eval();
      torch::NoGradGuard no_grad;
      EXPECT_TRUE(torch::equal(cut->forward(inputs), layer_logits(*full, inputs, k, own)))
          << "depth " << k;
      for (int64_t l = 1; own && l < k; ++l) {  // the exit heads of the layers before stay
        EXPECT_TRUE(
            torch::equal(layer_logits(*cut, inputs, l, true), layer_logits(*full, inputs, l, true)))
            << "depth " << k << ", exit " << l;
      }
    }
  }
}

TEST(ExportDepth, HuggingFaceAndRunFoldersAtDepthK) {
  if (!lw::testing::fashion_mnist_installed()) GTEST_SKIP() << "dataset-fashion-mnist missing";
  const auto dir = temp_dir("export_depth");
  const std::string train =
      "-q train --preset tiny --layers 3 --epochs 1 --train-limit 256 "
      "--val-limit 64 --batch-size 64 --objective ";
  auto r = run_cli(train + "aligned --out " + dir + "/aligned");
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_cli(train + "multihead --out " + dir + "/multihead");
  ASSERT_EQ(r.code, 0) << r.output;

  // An aligned ViT cut after 2 of 3 blocks: ViTForImageClassification with 2 layers.
  r = run_cli("-q export " + dir + "/aligned --depth 2 --out " + dir + "/vit-2");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto config = read_json(dir + "/vit-2/config.json");
  EXPECT_EQ(config["architectures"][0], "ViTForImageClassification");
  EXPECT_EQ(config["num_hidden_layers"], 2);
  const auto info = read_json(dir + "/vit-2/layerwise_export.json");
  EXPECT_EQ(info["depth"], 2);
  EXPECT_EQ(info["source_layers"], 3);
  EXPECT_EQ(info["format"], "hugging_face");
  EXPECT_EQ(info["source"], std::filesystem::absolute(dir + "/aligned").string());
  const auto run_config = lw::train::read_run_config(dir + "/aligned").model;
  EXPECT_EQ(info["parameters"], lm::depth_parameters(run_config, 2));
  // Its logits are the run's layer-2 reading: in the reference file, through the checkpoint
  // loaded back, and through the original run's model.
  const auto reference = lw::read_safetensors(dir + "/vit-2/layerwise_reference.safetensors");
  const auto inputs = reference.at("inputs");
  auto back = lm::import_hf(dir + "/vit-2");
  EXPECT_EQ(back.model->n_layers(), 2);
  EXPECT_EQ(lm::count_parameters(*back.model), lm::depth_parameters(run_config, 2));
  auto original = lw::train::load_run(dir + "/aligned", torch::kCPU);
  const auto expected = layer_logits(*original.model, inputs, 2, false);
  EXPECT_LT(lw::testing::max_diff(reference.at("logits"), expected), 1e-5);
  EXPECT_LT(lw::testing::max_diff(layer_logits(*back.model, inputs, 2, false), expected), 1e-5);
  // ... and not its last layer's (the check can fail).
  EXPECT_GT(lw::testing::max_diff(layer_logits(*original.model, inputs, 3, false), expected), 1e-3);

  // A multi-head run has no transformers layout: a run folder that eval reads, whose last layer
  // is the original's layer 2 with its own head, sample for sample.
  r = run_cli("-q export " + dir + "/multihead --depth 2 --out " + dir + "/mh-2");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(read_json(dir + "/mh-2/layerwise_export.json")["format"], "layerwise_run");
  EXPECT_EQ(read_json(dir + "/mh-2/config.json")["model"]["n_layers"], 2);
  for (const auto* run : {"/multihead", "/mh-2"}) {
    r = run_cli("-q eval " + dir + run + " --samples 300");
    ASSERT_EQ(r.code, 0) << r.output;
  }
  const auto full_eval = read_json(dir + "/multihead/eval.json");
  const auto cut_eval = read_json(dir + "/mh-2/eval.json");
  ASSERT_EQ(cut_eval["accuracy"].size(), 2u);
  EXPECT_EQ(cut_eval["final_accuracy"], full_eval["accuracy"][1]);
  EXPECT_EQ(cut_eval["accuracy"][0], full_eval["accuracy"][0]);  // the exit head of layer 1 too
  // eval.json records what each depth costs (the report's and eval's tables read it there).
  EXPECT_EQ(full_eval["depth_parameters"][1].get<int64_t>(), lm::depth_parameters(
      lw::train::read_run_config(dir + "/multihead").model, 2));
  const auto full_predictions =
      lw::read_safetensors(dir + "/multihead/eval_predictions.safetensors").at("predictions");
  const auto cut_predictions =
      lw::read_safetensors(dir + "/mh-2/eval_predictions.safetensors").at("predictions");
  EXPECT_TRUE(torch::equal(cut_predictions, full_predictions.slice(0, 0, 2)));

  // Depths out of range: exit 2, one line naming the flag and the range, nothing written.
  r = run_cli("-q export " + dir + "/aligned --depth 4 --out " + dir + "/bad");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--depth 4 is outside 1..3"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  lw::workflow::ExportOptions zero;  // the same check, without a process
  zero.depth = 0;
  EXPECT_NE(lw::testing::error_message([&] {
              lw::workflow::export_run(dir + "/aligned", dir + "/bad", zero);
            }).find("--depth 0 is outside 1..3"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad.partial"));

  // The report gives each depth's parameters and FLOPs beside its accuracy.
  r = run_cli("report " + dir + "/multihead -o " + dir + "/report.html");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto html = lw::read_file(dir + "/report.html");
  const auto multihead_config = lw::train::read_run_config(dir + "/multihead").model;
  EXPECT_NE(html.find("<th>FLOPs / sample</th>"), std::string::npos);
  for (int64_t k = 1; k <= 3; ++k) {
    const auto cells =
        "<td>" + lw::report::format_si(double(lm::depth_parameters(multihead_config, k))) +
        "</td><td>" + lw::report::format_si(lm::forward_flops(multihead_config, k).total()) +
        "</td>";
    EXPECT_NE(html.find(cells), std::string::npos) << cells;
  }
  lw::testing::remove_tree(dir);
}
