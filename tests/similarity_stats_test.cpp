// The permutation null and bootstrap intervals of the similarity measures
// (analysis/similarity_stats.h): the closed-form null moments against drawn permutations, the null
// of independent layers against the known finite-sample bias, calibration of identical layers, and
// the bootstrap interval's coverage of a known population CKA.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "layerwise/analysis/similarity.h"
#include "layerwise/analysis/similarity_stats.h"
#include "test_util.h"

namespace la = layerwise::analysis;

namespace {

// Two layers per side with different spectra and means (the null depends on both).
std::pair<la::Layers, la::Layers> skewed_layers(int64_t n, int64_t d, uint64_t seed) {
  torch::manual_seed(seed);
  const auto scale = torch::linspace(0.5, 3.0, d, torch::kFloat64);
  la::Layers a{torch::randn({n, d}, torch::kFloat64) * scale + 0.7,
               torch::rand({n, d}, torch::kFloat64).pow(3)};
  la::Layers b{torch::randn({n, d}, torch::kFloat64).exp(),
               torch::randn({n, d}, torch::kFloat64) * scale.flip(0) - 0.3};
  return {a, b};
}

}  // namespace

TEST(SimilarityNull, ExactMomentsMatchDrawnPermutations) {
  const int64_t n = 40, draws = 4000;
  const auto [a, b] = skewed_layers(n, 6, 11);
  for (const std::string metric : {"cos", "cka_linear"}) {
    const auto [mean, std] = la::exact_null(metric, a, b);  // (2, 2)
    auto generator = at::detail::createCPUGenerator(5);
    std::vector<torch::Tensor> null;
    for (int64_t k = 0; k < draws; ++k) {
      const auto pairing = torch::randperm(n, generator);
      la::Layers shuffled{b[0].index_select(0, pairing), b[1].index_select(0, pairing)};
      null.push_back(la::compute_similarity({metric}, a, shuffled).at(metric));
    }
    const auto all = torch::stack(null);  // (K, 2, 2)
    const auto drawn_mean = all.mean(0), drawn_std = all.std(0);
    // The drawn mean is within 4 standard errors; the drawn spread within 6% (K = 4000).
    EXPECT_TRUE(((drawn_mean - mean).abs() < 4 * std / std::sqrt(double(draws))).all().item<bool>())
        << metric << "\n"
        << drawn_mean << "\n"
        << mean;
    EXPECT_TRUE(((drawn_std / std - 1).abs() < 0.06).all().item<bool>()) << metric << "\n"
                                                                         << drawn_std << "\n"
                                                                         << std;
  }
}

TEST(SimilarityNull, IndependentGaussianLayersSitAtTheFiniteSampleBias) {
  // Linear CKA of independent isotropic Gaussians is not 0 but ~ D / N (beta = D in the limit).
  torch::manual_seed(2);
  const int64_t n = 2000, d = 20;
  const la::Layers a{torch::randn({n, d}, torch::kFloat64)};
  const la::Layers b{torch::randn({n, d}, torch::kFloat64)};
  const auto values = la::compute_similarity({"cos", "cka_linear"}, a, b);
  la::StatsOptions options;
  options.null_draws = 1;  // exact for both measures: the count is not used
  const auto stats = la::similarity_stats(values, a, b, {}, options);
  const auto& cka = stats.at("cka_linear");
  EXPECT_EQ(cka.null_method, "exact");
  EXPECT_NEAR(cka.null_mean.item<double>(), double(d) / n, 0.15 * d / n);
  EXPECT_GT(values.at("cka_linear").item<double>(), 0.5 * d / n);  // the bias is really there
  EXPECT_LT(std::abs(cka.calibrated.item<double>()), 5 * cka.null_std.item<double>());
  EXPECT_GT(cka.p_value.item<double>(), 1e-3);
  // cos of independent zero-mean layers: null mean ~ 0, the measured value within the spread.
  const auto& cos = stats.at("cos");
  EXPECT_LT(std::abs(values.at("cos").item<double>() - cos.null_mean.item<double>()),
            5 * cos.null_std.item<double>());
}

TEST(SimilarityNull, IdenticalLayersCalibrateToOneAndDrawnMeasuresCountTheirDraws) {
  const auto [a, b] = skewed_layers(200, 5, 4);
  const auto values = la::compute_similarity({"cos", "cka_linear", "cka_rbf", "procrustes"}, a, a);
  la::StatsOptions options;
  options.null_draws = 19;
  const auto stats = la::similarity_stats(values, a, a, {}, options);
  for (const std::string metric : {"cos", "cka_linear", "cka_rbf"}) {
    const auto& s = stats.at(metric);
    EXPECT_EQ(s.null_method, metric == "cka_rbf" ? "drawn" : "exact");
    EXPECT_NEAR(s.calibrated[0][0].item<double>(), 1.0, 1e-9) << metric;
    EXPECT_NEAR(s.calibrated[1][1].item<double>(), 1.0, 1e-9) << metric;
    EXPECT_LT(s.p_value[0][0].item<double>(), 0.051) << metric;  // drawn: 1 / (19 + 1) at best
  }
  // procrustes is a distance: identical layers are at 0, below every shuffled pairing.
  EXPECT_NEAR(stats.at("procrustes").p_value[0][0].item<double>(), 0.05, 1e-12);
  EXPECT_PRED2(layerwise::testing::contains,
               layerwise::testing::error_message([&] { la::exact_null("pwcca", a, a); }),
               "no exact permutation null for 'pwcca'");
}

TEST(SimilarityBootstrap, IntervalsCoverAKnownPopulationCkaAtTheNominalRate) {
  // y = x + z with x, z ~ N(0, I_2): population linear CKA = |S_xy|^2 / (|S_xx| |S_yy|) = 1/2.
  // 100 data sets of 400 samples, 100 resamples each, 90% intervals: the coverage is binomial
  // (sd 3 points), so it must land in [0.80, 0.97].
  const int64_t trials = 100, n = 400;
  int64_t covered = 0;
  la::StatsOptions options;
  options.bootstrap = 100;
  options.confidence = 0.9;
  for (int64_t t = 0; t < trials; ++t) {
    torch::manual_seed(100 + t);
    const auto x = torch::randn({n, 2}, torch::kFloat64);
    const la::Layers a{x}, b{x + torch::randn({n, 2}, torch::kFloat64)};
    const auto values = la::compute_similarity({"cka_linear"}, a, b);
    options.seed = uint64_t(t);
    const auto stats = la::similarity_stats(values, a, b, {}, options);
    const auto& s = stats.at("cka_linear");
    EXPECT_LE(s.ci_low.item<double>(), s.ci_high.item<double>());
    covered += s.ci_low.item<double>() <= 0.5 && 0.5 <= s.ci_high.item<double>();
  }
  const double coverage = double(covered) / trials;
  EXPECT_GE(coverage, 0.80);
  EXPECT_LE(coverage, 0.97);
  RecordProperty("coverage", std::to_string(coverage));
}

TEST(SimilarityBootstrap, CosFromWeightedPerSampleCosinesEqualsRecomputingEachResample) {
  // cos takes the counts shortcut, cka_linear recomputes: the same resamples (one seed) give cos
  // intervals equal to those of cos recomputed on each resample's rows.
  const auto [a, b] = skewed_layers(300, 6, 21);
  la::StatsOptions options;
  options.bootstrap = 30;
  options.seed = 9;
  const auto values = la::compute_similarity({"cos", "cka_linear"}, a, b);
  const auto stats = la::similarity_stats(values, a, b, {}, options);
  auto generator = at::detail::createCPUGenerator(9);
  std::vector<torch::Tensor> by_hand;
  for (int64_t k = 0; k < 30; ++k) {
    const auto rows = torch::randint(300, {300}, generator, torch::kInt64);
    la::Layers ra{a[0].index_select(0, rows), a[1].index_select(0, rows)};
    la::Layers rb{b[0].index_select(0, rows), b[1].index_select(0, rows)};
    by_hand.push_back(la::compute_similarity({"cos"}, ra, rb).at("cos"));
  }
  const auto all = torch::stack(by_hand);
  EXPECT_LT((stats.at("cos").ci_low - torch::quantile(all, 0.025, 0)).abs().max().item<double>(),
            1e-9);
  EXPECT_LT((stats.at("cos").ci_high - torch::quantile(all, 0.975, 0)).abs().max().item<double>(),
            1e-9);
  // (Not ci_low <= value: a resample's repeated samples raise linear CKA's finite-sample bias, so
  // with D / N not small its whole bootstrap distribution can sit above the estimate.)
  EXPECT_TRUE((stats.at("cka_linear").ci_low <= stats.at("cka_linear").ci_high).all().item<bool>());
}

TEST(SimilarityStatsCli, CompareWritesTheStatisticsAndRefusesBadFlags) {
  using layerwise::testing::contains;
  using layerwise::testing::run_cli;
  const auto dir = layerwise::testing::temp_dir("similarity_stats_cli");
  ASSERT_EQ(run_cli("example --samples 300 --layers 4 --out " + dir + "/layers.safetensors").code,
            0);
  auto r = run_cli("compare " + dir + "/layers.safetensors --metrics cos,cka_linear,procrustes " +
                   "--null 9 --bootstrap 10 --confidence 0.9 -q --out " + dir + "/out");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto json = layerwise::testing::read_json(dir + "/out/similarity.json");
  EXPECT_EQ(json.at("statistics_options").at("bootstrap"), 10);
  EXPECT_EQ(json.at("statistics").at("cos").at("null_method"), "exact");
  EXPECT_EQ(json.at("statistics").at("procrustes").at("null_method"), "drawn");
  for (const auto* field : {"ci_low", "ci_high", "null_mean", "null_std", "p_value", "calibrated"})
    EXPECT_TRUE(json.at("statistics").at("cka_linear").contains(field)) << field;
  const auto calibrated = json.at("statistics").at("cka_linear").at("calibrated");
  EXPECT_NEAR(calibrated[0][0].get<double>(), 1.0, 1e-9);  // a layer with itself
  EXPECT_TRUE(json.at("calibrated_correlation_with_cos").contains("cka_linear"));
  // similarity_stats.csv: a header and one row per measure and layer pair.
  std::ifstream csv(dir + "/out/similarity_stats.csv");
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line,
            "measure,layer_a,layer_b,value,ci_low,ci_high,null_mean,null_std,p_value,calibrated");
  int64_t rows = 0;
  while (std::getline(csv, line)) ++rows;
  const auto n_layers = int64_t(json.at("layers_a").size());
  EXPECT_EQ(rows, 3 * n_layers * n_layers);
  r = run_cli("compare " + dir + "/layers.safetensors --null 5 --confidence 2 --out " + dir +
              "/bad");
  EXPECT_NE(r.code, 0);
  EXPECT_PRED2(contains, r.output, "--confidence");
  layerwise::testing::remove_tree(dir);
}
