// The model interface and the ViT: shapes, parameter names, a by-hand reference of the block and
// the patch embedding, the heads, weights round trips and configuration errors.
#include <cmath>

#include "layerwise/core/safetensors.h"
#include "layerwise/model/block.h"
#include "layerwise/model/config.h"
#include "layerwise/model/layered_model.h"
#include "layerwise/model/vit.h"
#include "layerwise/model/weights.h"
#include "test_util.h"

namespace lm = layerwise::model;
using layerwise::testing::error_message;
using layerwise::testing::max_diff;
using layerwise::testing::contains;

namespace {

lm::ModelConfig tiny_config(lm::HeadMode heads = lm::HeadMode::shared) {
  auto config = lm::vit_preset("tiny");  // L=2, d=32, 2 heads, patch 7 -> 16 patches
  config.n_layers = 3;
  config.heads = heads;
  return config;
}

// Multi-head attention written per head with explicit loops over heads, independent of the
// module's reshapes: softmax(q_h k_h^T / sqrt(dh)) v_h, concatenated, projected.
torch::Tensor attention_by_hand(lm::SelfAttentionImpl& attn, const torch::Tensor& x, int64_t heads,
                                bool causal) {
  const int64_t d = x.size(2), dh = d / heads, t = x.size(1);
  const auto w = attn.qkv->weight, b = attn.qkv->bias;  // (3d, d), (3d)
  const auto q = torch::matmul(x, w.slice(0, 0, d).t()) + b.slice(0, 0, d);
  const auto k = torch::matmul(x, w.slice(0, d, 2 * d).t()) + b.slice(0, d, 2 * d);
  const auto v = torch::matmul(x, w.slice(0, 2 * d, 3 * d).t()) + b.slice(0, 2 * d, 3 * d);
  std::vector<torch::Tensor> outputs;
  for (int64_t h = 0; h < heads; ++h) {
    const auto qh = q.slice(2, h * dh, (h + 1) * dh), kh = k.slice(2, h * dh, (h + 1) * dh);
    auto scores = torch::matmul(qh, kh.transpose(1, 2)) / std::sqrt(double(dh));  // (B, T, T)
    if (causal)
      for (int64_t i = 0; i < t; ++i)
        for (int64_t j = i + 1; j < t; ++j) scores.select(1, i).select(1, j).fill_(-1e30);
    outputs.push_back(torch::matmul(scores.softmax(-1), v.slice(2, h * dh, (h + 1) * dh)));
  }
  return attn.proj(torch::cat(outputs, 2));
}

torch::Tensor layer_norm_by_hand(const torch::Tensor& x, const torch::nn::LayerNorm& norm,
                                 double eps) {
  const auto mean = x.mean(-1, true);
  const auto var = (x - mean).pow(2).mean(-1, true);
  return (x - mean) / (var + eps).sqrt() * norm->weight + norm->bias;
}

}  // namespace

TEST(Vit, ForwardLayersShapes) {
  torch::manual_seed(0);
  auto model = lm::make_model(tiny_config());
  const auto images = torch::randn({5, 1, 28, 28});
  const auto hidden = model->forward_layers(images);
  ASSERT_EQ(hidden.size(), 4u);  // embeddings + 3 blocks
  for (const auto& h : hidden) EXPECT_EQ(h.sizes(), torch::IntArrayRef({5, 17, 32}));
  EXPECT_EQ(model->forward(images).sizes(), torch::IntArrayRef({5, 10}));
  EXPECT_EQ(model->pool(hidden[2]).sizes(), torch::IntArrayRef({5, 32}));
  // Computing only the first blocks gives the same prefix.
  const auto prefix = model->forward_layers(images, 1);
  ASSERT_EQ(prefix.size(), 2u);
  EXPECT_EQ(max_diff(prefix[1], hidden[1]), 0.0);
}

TEST(Vit, MeanPoolingReadsThePatchTokens) {
  torch::manual_seed(0);
  auto config = tiny_config();
  config.pool = lm::Pooling::mean;
  auto model = lm::make_model(config);
  const auto images = torch::randn({4, 1, 28, 28});
  const auto hidden = model->forward_layers(images);  // (4, 17, 32) each
  // The class token (position 0) is left out; the 16 patch tokens are averaged.
  const auto expected = hidden[3].slice(1, 1, 17).sum(1) / 16.0;
  EXPECT_LT(max_diff(model->pool(hidden[3]), expected), 1e-6);
  EXPECT_LT(max_diff(model->forward(images), model->head(expected)), 1e-5);
  auto j = lm::to_json(config);
  j["pool"] = "max";
  EXPECT_NE(error_message([&] {
              lm::model_config_from_json(j);
            }).find("model.pool 'max' is not known; use cls or mean"),
            std::string::npos);
}

TEST(Weights, NonFiniteWeightsAreRefusedByName) {
  auto model = lm::make_model(tiny_config());
  auto tensors = lm::named_weights(*model);
  for (auto& [name, tensor] : tensors) tensor = tensor.detach().clone();
  tensors[3].second.view(-1)[0] = std::nan("");
  const auto name = tensors[3].first;
  EXPECT_NE(error_message([&] {
              lm::load_weights(tensors, *model, "m.safetensors");
            }).find("m.safetensors: tensor '" + name + "' holds NaN or infinite values"),
            std::string::npos);
}

TEST(Vit, ParameterNamesAreStable) {
  auto model = lm::make_model(tiny_config());
  std::vector<std::string> names;
  for (const auto& [name, tensor] : lm::named_weights(*model)) names.push_back(name);
  // timm's order: a module's own parameters first, then its submodules'.
  const std::vector<std::string> head = {"cls_token",
                                         "pos_embed",
                                         "patch_embed.proj.weight",
                                         "patch_embed.proj.bias",
                                         "blocks.0.norm1.weight",
                                         "blocks.0.norm1.bias",
                                         "blocks.0.attn.qkv.weight",
                                         "blocks.0.attn.qkv.bias",
                                         "blocks.0.attn.proj.weight",
                                         "blocks.0.attn.proj.bias",
                                         "blocks.0.norm2.weight",
                                         "blocks.0.norm2.bias",
                                         "blocks.0.mlp.fc1.weight",
                                         "blocks.0.mlp.fc1.bias",
                                         "blocks.0.mlp.fc2.weight",
                                         "blocks.0.mlp.fc2.bias"};
  ASSERT_GE(names.size(), head.size());
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + head.size()), head);
  const std::vector<std::string> tail = {"final_norm.weight", "final_norm.bias",
                                         "classifier.weight", "classifier.bias"};
  EXPECT_EQ(std::vector<std::string>(names.end() - 4, names.end()), tail);
  EXPECT_EQ(names.size(), 4 + 3 * 12 + 4u);
}

TEST(Vit, PerLayerHeadsAddOneHeadPerEarlierLayer) {
  auto shared = lm::make_model(tiny_config());
  auto multi = lm::make_model(tiny_config(lm::HeadMode::per_layer));
  const int64_t d = 32, c = 10;
  EXPECT_EQ(lm::count_parameters(*multi) - lm::count_parameters(*shared), 2 * (2 * d + d * c + c));
  std::set<std::string> names;
  for (const auto& [name, tensor] : lm::named_weights(*multi)) names.insert(name);
  EXPECT_TRUE(names.count("exit_heads.0.norm.weight"));
  EXPECT_TRUE(names.count("exit_heads.1.fc.weight"));
  EXPECT_FALSE(names.count("exit_heads.2.fc.weight"));  // layer L uses the final head
}

TEST(Vit, SharedHeadIsTheSameForEveryLayer) {
  torch::manual_seed(1);
  auto model = lm::make_model(tiny_config());
  const auto z = torch::randn({4, 32});
  const auto expected = model->classifier(layer_norm_by_hand(z, model->final_norm, 1e-6));
  EXPECT_LT(max_diff(model->head(z), expected), 1e-5);
  for (int64_t l = 1; l <= 3; ++l) EXPECT_EQ(max_diff(model->head_at(z, l), model->head(z)), 0.0);
}

TEST(Vit, PerLayerHeadsDifferAndTheLastIsTheFinalHead) {
  torch::manual_seed(2);
  auto model = lm::make_model(tiny_config(lm::HeadMode::per_layer));
  const auto z = torch::randn({4, 32});
  EXPECT_GT(max_diff(model->head_at(z, 1), model->head(z)), 1e-4);
  EXPECT_GT(max_diff(model->head_at(z, 1), model->head_at(z, 2)), 1e-4);
  EXPECT_EQ(max_diff(model->head_at(z, 3), model->head(z)), 0.0);
  EXPECT_TRUE(contains(error_message([&] { model->head_at(z, 4); }), "outside 1..3"));
}

TEST(Block, AttentionMatchesPerHeadReference) {
  torch::manual_seed(3);
  for (bool causal : {false, true}) {
    lm::BlockConfig config;
    config.d_model = 12;
    config.n_heads = 3;
    config.causal = causal;
    lm::SelfAttention attn(config);
    const auto x = torch::randn({2, 5, 12});
    EXPECT_LT(max_diff(attn(x), attention_by_hand(*attn, x, 3, causal)), 1e-5) << causal;
  }
}

TEST(Block, CausalAttentionIgnoresLaterTokens) {
  torch::manual_seed(4);
  lm::BlockConfig config;
  config.d_model = 8;
  config.n_heads = 2;
  config.causal = true;
  lm::TransformerBlock block(config);
  const auto x = torch::randn({1, 6, 8});
  auto changed = x.clone();
  changed.select(1, 5).normal_();
  const auto a = block(x), b = block(changed);
  EXPECT_EQ(max_diff(a.slice(1, 0, 5), b.slice(1, 0, 5)), 0.0);
  EXPECT_GT(max_diff(a.select(1, 5), b.select(1, 5)), 1e-4);
}

TEST(Block, PreAndPostNormMatchTheirFormulas) {
  torch::manual_seed(5);
  for (bool pre_norm : {true, false}) {
    for (const auto gelu : {lm::Gelu::exact, lm::Gelu::tanh}) {
      lm::BlockConfig config;
      config.d_model = 8;
      config.n_heads = 2;
      config.d_ff = 16;
      config.pre_norm = pre_norm;
      config.gelu = gelu;
      config.ln_eps = 1e-5;
      lm::TransformerBlock block(config);
      const auto x = torch::randn({3, 4, 8});
      auto mlp = [&](const torch::Tensor& h) {
        const auto u = block->mlp->fc1(h);
        const auto act =
            gelu == lm::Gelu::exact
                ? 0.5 * u * (1 + torch::erf(u / std::sqrt(2.0)))
                : 0.5 * u * (1 + torch::tanh(std::sqrt(2 / M_PI) * (u + 0.044715 * u.pow(3))));
        return block->mlp->fc2(act);
      };
      auto attn = [&](const torch::Tensor& h) {
        return attention_by_hand(*block->attn, h, 2, false);
      };
      auto norm1 = [&](const torch::Tensor& h) {
        return layer_norm_by_hand(h, block->norm1, 1e-5);
      };
      auto norm2 = [&](const torch::Tensor& h) {
        return layer_norm_by_hand(h, block->norm2, 1e-5);
      };
      torch::Tensor expected;
      if (pre_norm) {
        const auto h = x + attn(norm1(x));
        expected = h + mlp(norm2(h));
      } else {
        const auto h = norm1(x + attn(x));
        expected = norm2(h + mlp(h));
      }
      EXPECT_LT(max_diff(block(x), expected), 1e-5)
          << pre_norm << " " << layerwise::enum_name(gelu);
    }
  }
}

TEST(Block, DropoutActsOnlyWhileTraining) {
  torch::manual_seed(6);
  lm::BlockConfig config;
  config.d_model = 8;
  config.n_heads = 2;
  config.d_ff = 16;
  lm::TransformerBlock plain(config);
  config.dropout = 0.5;
  lm::TransformerBlock dropped(config);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < plain->parameters().size(); ++i)
    dropped->parameters()[i].copy_(plain->parameters()[i]);
  const auto x = torch::randn({3, 4, 8});
  dropped->eval();
  EXPECT_LT(max_diff(dropped(x), plain(x)), 1e-6);  // eval: the same function
  dropped->train();
  EXPECT_GT(max_diff(dropped(x), plain(x)), 1e-3);    // training: branches are dropped
  EXPECT_GT(max_diff(dropped(x), dropped(x)), 1e-3);  // and differently each call
}

TEST(Vit, PatchEmbeddingMatchesManualPatches) {
  torch::manual_seed(6);
  auto model = lm::make_model(tiny_config());
  auto& vit = dynamic_cast<lm::VitImpl&>(*model);
  const auto images = torch::randn({2, 1, 28, 28});
  const auto embedded = vit.embed(images);  // (2, 17, 32)
  const auto w = vit.patch_proj->weight.reshape({32, 49});
  for (int64_t row = 0; row < 4; ++row)
    for (int64_t col = 0; col < 4; ++col) {
      const auto patch = images.slice(2, 7 * row, 7 * row + 7).slice(3, 7 * col, 7 * col + 7);
      const auto expected = torch::matmul(patch.reshape({2, 49}), w.t()) + vit.patch_proj->bias +
                            vit.pos_embed[0][1 + 4 * row + col];
      EXPECT_LT(max_diff(embedded.select(1, 1 + 4 * row + col), expected), 1e-5);
    }
  EXPECT_LT(
      max_diff(embedded.select(1, 0), (vit.cls_token[0][0] + vit.pos_embed[0][0]).expand({2, 32})),
      1e-6);
}

TEST(Vit, InitializationIsSeededAndTruncated) {
  torch::manual_seed(7);
  auto a = lm::make_model(lm::vit_preset("small"));
  torch::manual_seed(7);
  auto b = lm::make_model(lm::vit_preset("small"));
  const auto wa = lm::named_weights(*a), wb = lm::named_weights(*b);
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_EQ(max_diff(wa[i].second, wb[i].second), 0.0);
  auto& vit = dynamic_cast<lm::VitImpl&>(*a);
  const auto w = vit.blocks[0]->as<lm::TransformerBlock>()->attn->qkv->weight;
  EXPECT_LE(w.abs().max().item<double>(), 0.04 + 1e-7);
  EXPECT_NEAR(w.std().item<double>(), 0.0176, 0.002);  // std of N(0, .02) truncated at 2 sigma
  EXPECT_EQ(vit.final_norm->weight.min().item<double>(), 1.0);
}

TEST(Weights, RoundTripAndStrictLoading) {
  const auto dir = layerwise::testing::temp_dir("weights");
  torch::manual_seed(8);
  auto a = lm::make_model(tiny_config());
  torch::manual_seed(9);
  auto b = lm::make_model(tiny_config());
  lm::save_weights(dir + "/a.safetensors", *a, {{"note", "test"}});
  lm::load_weights(dir + "/a.safetensors", *b);
  const auto images = torch::randn({3, 1, 28, 28});
  EXPECT_EQ(max_diff(a->forward(images), b->forward(images)), 0.0);

  auto tensors = lm::named_weights(*a);
  auto missing = tensors;
  missing.erase(missing.begin());  // cls_token
  EXPECT_TRUE(contains(error_message([&] { lm::load_weights(missing, *b, "m.st"); }),
                       "m.st: no tensor 'cls_token'"));
  auto extra = tensors;
  extra.emplace_back("surplus", torch::zeros({1}));
  EXPECT_TRUE(contains(error_message([&] { lm::load_weights(extra, *b, "x.st"); }),
                       "'surplus' is not a weight"));
  auto wrong = tensors;
  wrong[2].second = torch::zeros({2, 2});
  EXPECT_TRUE(contains(error_message([&] { lm::load_weights(wrong, *b, "w.st"); }),
                       "'patch_embed.proj.weight' has shape [2, 2]"));
  // A model of another size refuses the file.
  auto bigger = tiny_config();
  bigger.block.d_model = 64;
  bigger.block.n_heads = 2;
  auto c = lm::make_model(bigger);
  EXPECT_TRUE(contains(error_message([&] { lm::load_weights(dir + "/a.safetensors", *c); }),
                       "a.safetensors"));
  layerwise::testing::remove_tree(dir);
}

TEST(ModelConfig, JsonRoundTripAndErrors) {
  auto config = lm::vit_preset("medium");
  config.heads = lm::HeadMode::per_layer;
  config.block.gelu = lm::Gelu::tanh;
  config.block.dropout = 0.1;
  const auto back = lm::model_config_from_json(lm::to_json(config));
  EXPECT_EQ(lm::to_json(back), lm::to_json(config));
  auto j = lm::to_json(config);
  j["depth"] = 3;
  EXPECT_TRUE(contains(error_message([&] { lm::model_config_from_json(j); }),
                       "model: unknown setting 'depth'"));
  j = lm::to_json(config);
  j["n_heads"] = 5;
  EXPECT_TRUE(
      contains(error_message([&] { lm::model_config_from_json(j); }), "multiple of model.n_heads"));
  j = lm::to_json(config);
  j["dropout"] = 1.0;
  EXPECT_TRUE(contains(error_message([&] { lm::model_config_from_json(j); }), "dropout"));
  j = lm::to_json(config);
  j["patch_size"] = 5;
  EXPECT_TRUE(contains(error_message([&] { lm::model_config_from_json(j); }),
                       "must divide model.image_size"));
  EXPECT_TRUE(
      contains(error_message([] { lm::vit_preset("huge"); }), "unknown model preset 'huge'"));
  for (const auto& name : lm::vit_preset_names())
    EXPECT_NO_THROW(lm::validate(lm::vit_preset(name)));
}

TEST(Vit, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  at::globalContext().setAllowTF32CuDNN(false);  // exact float32 patch embedding
  torch::manual_seed(10);
  auto model = lm::make_model(tiny_config(lm::HeadMode::per_layer));
  const auto images = torch::randn({16, 1, 28, 28});
  const auto cpu = model->forward_layers(images);
  const auto cpu_head = model->head_at(model->pool(cpu[1]), 1);
  model->to(torch::kCUDA);
  const auto cuda = model->forward_layers(images.cuda());
  for (size_t l = 0; l < cpu.size(); ++l) EXPECT_LT(max_diff(cpu[l], cuda[l].cpu()), 1e-4) << l;
  EXPECT_LT(max_diff(cpu_head, model->head_at(model->pool(cuda[1]), 1).cpu()), 1e-4);
}
