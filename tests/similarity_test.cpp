// COS, the CKA forms and Procrustes: golden values, properties, and errors on bad input.
#include <fstream>

#include "layerwise/analysis/cka.h"
#include "layerwise/analysis/cos.h"
#include "layerwise/analysis/linear_stats.h"
#include "layerwise/analysis/procrustes.h"
#include "layerwise/analysis/similarity.h"
#include "test_util.h"

namespace la = layerwise::analysis;
using layerwise::testing::error_message;
using layerwise::testing::max_diff;

namespace {

// X and Y of Kornblith's reference notebook (see fixtures/make_kornblith_inputs.py), float64.
std::pair<torch::Tensor, torch::Tensor> kornblith_xy() {
  std::ifstream in(layerwise::testing::fixture("kornblith_xy.txt"));
  std::string line;
  std::getline(in, line);  // comment
  std::vector<double> values;
  for (double v; in >> v;) values.push_back(v);
  EXPECT_EQ(values.size(), 2000u);
  auto all = torch::tensor(values, torch::kFloat64).reshape({200, 10});
  return {all.narrow(0, 0, 100).clone(), all.narrow(0, 100, 100).clone()};
}

double entry(const torch::Tensor& m, int64_t i, int64_t j) {
  return m[i][j].item<double>();
}

// Three related layers of different widths: a random base, a noisy rotation of it, a projection.
la::Layers random_layers(int64_t n, uint64_t seed, torch::ScalarType dtype = torch::kFloat64) {
  torch::manual_seed(seed);
  const auto base = torch::randn({n, 12}, dtype);
  const auto rotation = std::get<0>(torch::linalg_qr(torch::randn({12, 12}, dtype)));
  return {base, base.mm(rotation) + 0.7 * torch::randn({n, 12}, dtype),
          torch::tanh(base.narrow(1, 0, 6)) + 0.3 * torch::randn({n, 6}, dtype)};
}

la::Layers copies(const la::Layers& layers) {
  la::Layers out;
  for (const auto& x : layers) out.push_back(x.clone());
  return out;
}

}  // namespace

// Golden values: Kornblith's notebook prints 0.55761, 0.65483, 0.51346; the other digits come from
// fixtures/make_similarity_golden.py (explicit N x N Grams in numpy).
TEST(SimilarityGolden, KornblithNotebookValues) {
  const auto [x, y] = kornblith_xy();
  const la::Layers a = {x, x.narrow(1, 0, 4).contiguous()};
  const la::Layers b = {y};
  const auto linear = la::cka_linear(a, b);
  const auto rbf = la::cka_rbf(a, b);
  const auto rbf1 = la::cka_rbf(a, b, la::RbfOptions{1.0});
  const auto debiased = la::cka_debiased(a, b);
  const auto procrustes = la::procrustes(a, b);
  EXPECT_NEAR(entry(linear, 0, 0), 0.557613256611759, 1e-12);
  EXPECT_NEAR(entry(rbf, 0, 0), 0.654831182261498, 1e-12);
  EXPECT_NEAR(entry(rbf1, 0, 0), 0.575832223013537, 1e-12);
  EXPECT_NEAR(entry(debiased, 0, 0), 0.513456489505526, 1e-12);
  EXPECT_NEAR(entry(procrustes, 0, 0), 0.527489378788343, 1e-12);
  EXPECT_NEAR(entry(linear, 1, 0), 0.381370295142380, 1e-12);
  EXPECT_NEAR(entry(rbf, 1, 0), 0.425697538643469, 1e-12);
  EXPECT_NEAR(entry(rbf1, 1, 0), 0.390965492079705, 1e-12);
  EXPECT_NEAR(entry(debiased, 1, 0), 0.346383096896611, 1e-12);
  EXPECT_NEAR(entry(procrustes, 1, 0), 1.011302886092811, 1e-12);
  EXPECT_NEAR(entry(la::cos({x}, {y}), 0, 0), 0.706042041856966, 1e-12);
}

TEST(SimilarityGolden, HandComputedCosine) {
  // Sample 0: (1,0) vs (0,1) -> 0; sample 1: (1,1) vs (2,2) -> 1; sample 2: (3,4) vs (-3,-4) -> -1;
  // sample 3: a zero vector counts as 0. Mean: 0.
  const auto x = torch::tensor({1., 0., 1., 1., 3., 4., 0., 0.}).reshape({4, 2});
  const auto y = torch::tensor({0., 1., 2., 2., -3., -4., 5., 1.}).reshape({4, 2});
  const auto per_sample = la::cos_per_sample(x, y);
  EXPECT_LT(max_diff(per_sample, torch::tensor({0., 1., -1., 0.})), 1e-6);
  EXPECT_NEAR(entry(la::cos({x, y}, {y}), 0, 0), 0.0, 1e-6);
  EXPECT_NEAR(entry(la::cos({x, y}, {y}), 1, 0), 1.0, 1e-6);
}

TEST(SimilarityGolden, HandComputedLinearCka) {
  // One feature: linear CKA is the squared Pearson correlation. x - mean = (-1, 0, 1),
  // y - mean = (-1, 1, 0): correlation 1 / (sqrt 2 sqrt 2) = 0.5, CKA 0.25.
  const auto x = torch::tensor({1., 2., 3.}).reshape({3, 1});
  const auto y = torch::tensor({1., 3., 2.}).reshape({3, 1});
  EXPECT_NEAR(entry(la::cka_linear({x}, {y}), 0, 0), 0.25, 1e-12);
  // Procrustes of 1-D unit-norm centered vectors: 2 - 2 |<x, y>| = 2 - 2 * 0.5 = 1.
  EXPECT_NEAR(entry(la::procrustes({x}, {y}), 0, 0), 1.0, 1e-12);
}

TEST(SimilarityProperties, MatrixCorrelationStaysWithinPlusMinusOne) {
  // Matrices that are affine images of each other: r = +-1 up to rounding, never past it (a
  // report checked r in [-1, 1] and once got 1.0000000000000002).
  torch::manual_seed(3);
  for (int trial = 0; trial < 200; ++trial) {
    const auto a = torch::rand({13, 13}, torch::kFloat64);
    const double up = la::matrix_correlation(a, a * 0.37 + 0.11);
    const double down = la::matrix_correlation(a, -a);
    EXPECT_LE(up, 1.0);
    EXPECT_NEAR(up, 1.0, 1e-12);
    EXPECT_GE(down, -1.0);
    EXPECT_NEAR(down, -1.0, 1e-12);
  }
}

TEST(SimilarityProperties, SymmetryAndSelfSimilarity) {
  const auto layers = random_layers(60, 1);
  const auto other = copies(layers);
  for (const auto& [name, value] : la::compute_similarity(
           {"cka_linear", "cka_rbf", "cka_debiased", "procrustes"}, layers, other)) {
    SCOPED_TRACE(name);
    EXPECT_LT(max_diff(value, value.t()), 1e-10);
    const double self = name == "procrustes" ? 0.0 : 1.0;
    EXPECT_LT(max_diff(value.diagonal(), torch::full({3}, self, torch::kFloat64)), 1e-9);
  }
  const la::Layers equal_width = {layers[0], layers[1]};
  const auto c = la::cos(equal_width, copies(equal_width));
  EXPECT_LT(max_diff(c, c.t()), 1e-12);
  EXPECT_LT(max_diff(c.diagonal(), torch::ones({2})), 1e-12);
}

TEST(SimilarityProperties, WithinModelShortcutMatchesCrossComputation) {
  const auto layers = random_layers(50, 2);
  const auto other = copies(layers);  // not the same tensors: no shortcut
  const auto metrics = std::vector<std::string>{"cka_linear", "cka_rbf", "cka_debiased",
                                                "cka_minibatch", "procrustes"};
  const auto within = la::compute_similarity(metrics, layers, layers);
  const auto across = la::compute_similarity(metrics, layers, other);
  for (const auto& name : metrics)
    EXPECT_LT(max_diff(within.at(name), across.at(name)), 1e-10) << name;
}

TEST(SimilarityProperties, CkaInvariantToOrthogonalMapsAndScaling) {
  const auto layers = random_layers(80, 3);
  const auto q = std::get<0>(torch::linalg_qr(torch::randn({12, 12}, torch::kFloat64)));
  const la::Layers moved = {layers[0].mm(q) * 3.5 + 2.0, layers[1] * 0.1, layers[2]};
  for (const auto& [name, value] : la::compute_similarity(
           {"cka_linear", "cka_rbf", "cka_debiased", "procrustes"}, layers, layers)) {
    const auto after = la::compute_similarity({name}, moved, moved).at(name);
    EXPECT_LT(max_diff(value, after), 1e-9) << name;
  }
}

TEST(SimilarityProperties, LinearCkaNotInvariantToGeneralLinearMaps) {
  const auto layers = random_layers(80, 4);
  torch::manual_seed(5);
  const auto stretch = torch::diag(torch::linspace(0.05, 5.0, 12, torch::kFloat64));
  const la::Layers moved = {layers[0].mm(stretch)};
  const auto before = entry(la::cka_linear({layers[0]}, {layers[1]}), 0, 0);
  const auto after = entry(la::cka_linear(moved, {layers[1]}), 0, 0);
  EXPECT_GT(std::abs(before - after), 1e-2);
}

TEST(SimilarityProperties, FeatureAndGramRoutesAgree) {
  const auto layers = random_layers(40, 6);
  const auto feature = la::linear_stats(layers, layers, la::StatsRoute::kFeature);
  const auto gram = la::linear_stats(layers, layers, la::StatsRoute::kGram);
  EXPECT_LT(max_diff(la::cka_linear(feature), la::cka_linear(gram)), 1e-12);
  EXPECT_LT(max_diff(la::cka_debiased(feature), la::cka_debiased(gram)), 1e-12);
}

TEST(SimilarityProperties, MinibatchCkaWithOneBatchEqualsDebiased) {
  const auto layers = random_layers(70, 7);
  la::MinibatchCka minibatch;
  minibatch.update(layers, layers);
  EXPECT_LT(max_diff(minibatch.result(), la::cka_debiased(layers, layers)), 1e-10);
  EXPECT_EQ(minibatch.n_samples(), 70);
}

TEST(SimilarityProperties, MinibatchCkaSumsBatches) {
  // Two batches: the HSIC sums are the sums of the per-batch unbiased HSICs.
  const auto layers = random_layers(90, 8);
  la::Layers first, second;
  for (const auto& x : layers) {
    first.push_back(x.narrow(0, 0, 40));
    second.push_back(x.narrow(0, 40, 50));
  }
  la::MinibatchCka minibatch;
  minibatch.update(first, first);
  minibatch.update(second, second);
  const auto hsic = la::unbiased_hsic_matrix(first) + la::unbiased_hsic_matrix(second);
  const auto expected = hsic / torch::outer(hsic.diagonal(), hsic.diagonal()).sqrt();
  EXPECT_LT(max_diff(minibatch.result(), expected), 1e-12);
  // And over many samples the minibatch estimate approaches the full one.
  const auto big = random_layers(4000, 9);
  const auto full = la::cka_debiased(big, big);
  const auto batched = la::compute_similarity({"cka_minibatch"}, big, big).at("cka_minibatch");
  EXPECT_LT(max_diff(full, batched), 0.02);
}

TEST(SimilarityProperties, Float32AgreesWithFloat64) {
  const auto layers = random_layers(200, 10);
  la::Layers single;
  for (const auto& x : layers) single.push_back(x.to(torch::kFloat32));
  const auto metrics =
      std::vector<std::string>{"cka_linear", "cka_rbf", "cka_debiased", "procrustes"};
  const auto exact = la::compute_similarity(metrics, layers, layers);
  const auto fast = la::compute_similarity(metrics, single, single);
  for (const auto& name : metrics) EXPECT_LT(max_diff(exact.at(name), fast.at(name)), 1e-5) << name;
  const la::Layers equal_width = {layers[0], layers[1]};
  const la::Layers equal_width32 = {single[0], single[1]};
  EXPECT_LT(max_diff(la::cos(equal_width, equal_width), la::cos(equal_width32, equal_width32)),
            1e-6);
}

TEST(SimilarityProperties, RbfTilingDoesNotChangeTheResult) {
  const auto layers = random_layers(53, 11);
  la::RbfOptions whole, tiled;
  tiled.tile_rows = 7;  // 53 = 7 * 7 + 4: a ragged last tile
  EXPECT_LT(max_diff(la::cka_rbf(layers, layers, whole), la::cka_rbf(layers, layers, tiled)),
            1e-12);
}

TEST(SimilarityProperties, RbfMedianOnSampledRows) {
  const auto x = random_layers(100, 12)[0];
  la::RbfOptions sampled;
  sampled.median_samples = 25;  // rows 0, 4, 8, ...
  const auto rows = x.index_select(0, torch::arange(0, 100, 4));
  EXPECT_NEAR(la::rbf_sigma2(x, sampled).item<double>(), la::rbf_sigma2(rows).item<double>(),
              1e-12);
  // Exact (every row) when N <= median_samples: d^2 median scaled by threshold^2.
  const auto d2 = torch::cdist(x, x).pow(2).reshape({-1});
  const auto sorted = std::get<0>(d2.sort());
  const double median = (sorted[4999].item<double>() + sorted[5000].item<double>()) / 2;
  EXPECT_NEAR(la::rbf_sigma2(x).item<double>(), 0.25 * median, 1e-9 * median);
}

TEST(SimilarityProperties, CosPerSampleMatrixHoldsEveryPair) {
  const auto layers = random_layers(30, 13);
  const la::Layers a = {layers[0], layers[1]};
  const auto per_sample = la::cos_per_sample_matrix(a, a);  // (N, 2, 2)
  ASSERT_EQ(per_sample.sizes(), (std::vector<int64_t>{30, 2, 2}));
  EXPECT_LT(max_diff(per_sample.select(1, 0).select(1, 1), la::cos_per_sample(a[0], a[1])), 1e-12);
}

TEST(SimilarityErrors, NonFiniteInputNamesLayerAndSample) {
  auto layers = random_layers(20, 14);
  layers[2] = layers[2].clone();
  layers[2][5][1] = std::nan("");
  auto message = error_message([&] { la::cka_linear(layers, layers); });
  EXPECT_NE(message.find("layer 2"), std::string::npos) << message;
  EXPECT_NE(message.find("sample 5"), std::string::npos) << message;
  layers[2][5][1] = INFINITY;
  message = error_message([&] { la::compute_similarity({"cos"}, {layers[0]}, {layers[2]}); });
  EXPECT_NE(message.find("B layer 0"), std::string::npos) << message;
}

TEST(SimilarityErrors, ShapeAndTypeProblems) {
  const auto layers = random_layers(20, 15);
  EXPECT_NE(
      error_message([&] { la::cka_linear(layers, {layers[0].narrow(0, 0, 10)}); }).find("samples"),
      std::string::npos);
  EXPECT_NE(error_message([&] { la::cos({layers[0]}, {layers[2]}); }).find("D="),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              la::cka_linear({torch::randn({4, 3, 2})}, {layers[0]});
            }).find("(N, D)"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              la::cka_linear({torch::ones({20, 3}, torch::kLong)}, layers);
            }).find("floating point"),
            std::string::npos);
  EXPECT_NE(error_message([&] { la::cka_linear({}, layers); }).find("no layers"),
            std::string::npos);
}

TEST(SimilarityErrors, DegenerateInputs) {
  const auto small = torch::randn({3, 4}, torch::kFloat64);
  EXPECT_NE(error_message([&] { la::cka_debiased({small}, {small}); }).find("more than 3"),
            std::string::npos);
  const auto constant = torch::ones({10, 4}, torch::kFloat64);
  const auto varied = torch::randn({10, 4}, torch::kFloat64);
  EXPECT_NE(
      error_message([&] { la::cka_linear({varied}, {constant}); }).find("B layer 0 is constant"),
      std::string::npos);
  EXPECT_NE(error_message([&] { la::cka_rbf({constant}, {varied}); }).find("constant"),
            std::string::npos);
  EXPECT_NE(error_message([&] { la::procrustes({constant}, {varied}); }).find("constant"),
            std::string::npos);
  EXPECT_NE(error_message([] { la::parse_metrics("cos,nope"); }).find("unknown metric 'nope'"),
            std::string::npos);
}

// The same measures on CUDA give the CPU's values (run on the GPU machine; skipped elsewhere).
TEST(SimilarityDevice, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  la::Layers cpu;
  for (const auto& x : random_layers(300, 16)) cpu.push_back(x.narrow(1, 0, 6).to(torch::kFloat32));
  la::Layers cuda;
  for (const auto& x : cpu) cuda.push_back(x.to(torch::kCUDA));
  const auto metrics = la::metric_names();
  const auto expected = la::compute_similarity(metrics, cpu, cpu);
  const auto actual = la::compute_similarity(metrics, cuda, cuda);
  for (const auto& name : metrics)
    EXPECT_LT(max_diff(expected.at(name), actual.at(name)), 1e-4) << name;
}
