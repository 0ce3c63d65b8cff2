// Reading layers from files: ordering by the integer in the name, selection, pooling.
#include "layerwise/analysis/layer_file.h"
#include "test_util.h"

namespace la = layerwise::analysis;
using layerwise::testing::error_message;

TEST(LayerFile, OrdersByTheIntegerInTheName) {
  std::vector<int64_t> numbers;
  const std::vector<std::string> names = {"layer.10", "layer.2", "layer.0", "layer.1"};
  const auto order = la::order_layer_names(names, numbers, "f");
  EXPECT_EQ(order, (std::vector<size_t>{2, 3, 1, 0}));
  EXPECT_EQ(numbers, (std::vector<int64_t>{0, 1, 2, 10}));
}

TEST(LayerFile, UsesTheOneIntegerThatVaries) {
  std::vector<int64_t> numbers;
  const std::vector<std::string> names = {"blocks.3.mlp.fc2", "blocks.1.mlp.fc2",
                                          "blocks.2.mlp.fc2"};
  EXPECT_EQ(la::order_layer_names(names, numbers, "f"), (std::vector<size_t>{1, 2, 0}));
  EXPECT_EQ(numbers, (std::vector<int64_t>{1, 2, 3}));
}

TEST(LayerFile, RefusesNamesItCannotOrder) {
  std::vector<int64_t> numbers;
  EXPECT_NE(error_message([&] {
              la::order_layer_names({"layer.1", "head"}, numbers, "f.st");
            }).find("'head' has no layer number"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              la::order_layer_names({"a1", "b1"}, numbers, "f.st");
            }).find("same layer number 1"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              la::order_layer_names({"x1y2", "x2y3"}, numbers, "f.st");
            }).find("cannot tell the layer number"),
            std::string::npos);
}

TEST(LayerFile, ParsesSelections) {
  EXPECT_EQ(la::parse_layer_selection("0,2,4-6"), (std::vector<int64_t>{0, 2, 4, 5, 6}));
  EXPECT_TRUE(la::parse_layer_selection("").empty());
  EXPECT_NE(error_message([] { la::parse_layer_selection("1,x"); }).find("'x'"), std::string::npos);
  EXPECT_NE(error_message([] { la::parse_layer_selection("5-2"); }).find("empty"),
            std::string::npos);
}

TEST(LayerFile, PoolsTokens) {
  const auto x = torch::arange(24, torch::kFloat32).reshape({2, 3, 4});  // (N, T, D)
  EXPECT_TRUE(torch::equal(la::pool_tokens(x, la::Pool::cls), x.select(1, 0)));
  EXPECT_TRUE(torch::equal(la::pool_tokens(x, la::Pool::last), x.select(1, 2)));
  EXPECT_TRUE(torch::allclose(la::pool_tokens(x, la::Pool::mean), x.mean(1)));
  EXPECT_EQ(la::pool_tokens(x, la::Pool::flatten).sizes(), (std::vector<int64_t>{2, 12}));
  EXPECT_EQ(la::pool_tokens(x, la::Pool::tokens).sizes(), (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(layerwise::parse_enum<la::Pool>("mean", "--pool"), la::Pool::mean);
  EXPECT_NE(error_message([] {
              layerwise::parse_enum<la::Pool>("max", "--pool");
            }).find("--pool 'max' is not known; use cls, mean, last, flatten or tokens"),
            std::string::npos);
}

TEST(LayerFile, MaskedPoolingReadsRealTokensOnly) {
  // Sample 0 has 2 real tokens of 3, sample 1 all 3.
  const auto x = torch::arange(24, torch::kFloat32).reshape({2, 3, 4});  // (N, T, D)
  const auto mask = torch::tensor({{true, true, false}, {true, true, true}});
  const auto mean = la::pool_tokens(x, la::Pool::mean, mask);
  EXPECT_TRUE(torch::allclose(mean[0], x[0].slice(0, 0, 2).mean(0)));
  EXPECT_TRUE(torch::allclose(mean[1], x[1].mean(0)));
  const auto last = la::pool_tokens(x, la::Pool::last, mask);
  EXPECT_TRUE(torch::equal(last[0], x[0][1]));
  EXPECT_TRUE(torch::equal(last[1], x[1][2]));
  EXPECT_TRUE(torch::equal(la::pool_tokens(x, la::Pool::cls, mask), x.select(1, 0)));
  EXPECT_NE(error_message([&] {
              la::pool_tokens(x, la::Pool::mean, mask.slice(1, 0, 2));
            }).find("does not fit"),
            std::string::npos);
}
