// Tests for the CCA family (analysis/cca.h): golden values from tests/fixtures/make_cca_golden.py,
// an independent float64 numpy formulation (eigenvalues of Sxx^-1 Sxy Syy^-1 Syx), and properties.
#include "layerwise/analysis/cca.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "layerwise/core/error.h"
#include "test_util.h"

namespace {

namespace la = layerwise::analysis;
using la::Layers;

// Printed by tests/fixtures/make_cca_golden.py (numpy 1.24, float64). x (50, 5), y (50, 7).
const std::vector<double> kRhoXY = {0.9925571331840668, 0.94839564875511539, 0.90797972651399428,
                                    0.72989276811234094, 0.29560435147022218};
const double kCcaMeanXY = 0.66583530770469268;
const double kSvccaXY99 = 0.72837920822313773;  // k = 5 (x), 6 (y)
const double kSvccaXY50 = 0.56630920299156662;  // k = 1 (x), 2 (y)
const double kPwccaXY = 0.83659672496134652;
const double kPwccaYX = 0.86297385823551453;
// Whole matrices, A = {z, x, w} (D = 3, 5, 8), B = {y, x} (D = 7, 5), row-major (3, 2); kPwccaBA is
// pwcca(B, A), row-major (2, 3).
const std::vector<double> kCcaMeanAB = {0.56463447295411984, 0.66200697488709448,
                                        0.66583530770469268, 0.99999999999999978,
                                        0.5479320494004899,  0.41160653768892175};
const std::vector<double> kSvcca99AB = {0.65784451331100835, 0.75794418306537847,
                                        0.72837920822313773, 0.99999999999999978,
                                        0.72647501596087483, 0.49527069083989428};
const std::vector<double> kSvcca50AB = {0.56313707726317286, 0.77852413756295613,
                                        0.56630920299156662, 1,
                                        0.93263200186078676, 0.0087293266500390876};
const std::vector<double> kPwccaAB = {0.83362970875930864, 0.90241586576855048,
                                      0.83659672496134652, 0.99999999999999967,
                                      0.83981025351785576, 0.71884625431247395};
const std::vector<double> kPwccaBA = {0.77092193483720328, 0.86297385823551453,
                                      0.7411134076062601,  0.84389717198648295,
                                      0.99999999999999967, 0.59353426385524355};

constexpr double kGoldenTol = 1e-10;

/// The matrices of tests/fixtures/cca_inputs.txt by name, float64 (N, D).
const std::map<std::string, torch::Tensor>& inputs() {
  static const std::map<std::string, torch::Tensor> loaded = [] {
    const std::string path = std::string(LAYERWISE_FIXTURES) + "/cca_inputs.txt";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::map<std::string, torch::Tensor> out;
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream head(line);
      std::string name;
      int64_t n = 0, d = 0;
      head >> name >> n >> d;
      std::vector<double> values(static_cast<size_t>(n * d));
      for (auto& v : values) in >> v;
      if (!in) throw std::runtime_error("truncated block '" + name + "' in " + path);
      out[name] = torch::tensor(values, torch::kFloat64).reshape({n, d});  // (N, D)
      std::getline(in, line);  // the rest of the last row
    }
    return out;
  }();
  return loaded;
}

torch::Tensor in(const std::string& name) {
  return inputs().at(name);
}

Layers layers_a() {
  return {in("z"), in("x"), in("w")};
}
Layers layers_b() {
  return {in("y"), in("x")};
}

double max_abs_diff(const torch::Tensor& actual, const std::vector<double>& expected) {
  EXPECT_EQ(actual.numel(), static_cast<int64_t>(expected.size()));
  const auto flat = actual.to(torch::kFloat64).contiguous().reshape({-1});
  double worst = 0.0;
  for (int64_t i = 0; i < flat.numel() && i < static_cast<int64_t>(expected.size()); ++i) {
    worst = std::max(worst, std::abs(flat[i].item<double>() - expected[static_cast<size_t>(i)]));
  }
  return worst;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

double scalar(const torch::Tensor& m) {
  EXPECT_EQ(m.numel(), 1);
  return m.item<double>();
}

/// A random well-conditioned (d, d) matrix: Q1 diag(0.5 .. 2) Q2 with Q1, Q2 random orthogonal.
torch::Tensor well_conditioned(int64_t d) {
  auto q1 = std::get<0>(torch::linalg_qr(torch::randn({d, d}, torch::kFloat64), "reduced"));
  auto q2 = std::get<0>(torch::linalg_qr(torch::randn({d, d}, torch::kFloat64), "reduced"));
  return q1.mm(torch::diag(torch::linspace(0.5, 2.0, d, torch::kFloat64))).mm(q2);
}

TEST(CcaGolden, CanonicalCorrelations) {
  const auto rho = la::canonical_correlations(in("x"), in("y"));
  EXPECT_EQ(rho.scalar_type(), torch::kFloat64);
  EXPECT_EQ(rho.sizes(), (std::vector<int64_t>{5}));
  EXPECT_LT(max_abs_diff(rho, kRhoXY), kGoldenTol);
  // Symmetric in its arguments.
  EXPECT_LT(max_abs_diff(la::canonical_correlations(in("y"), in("x")), kRhoXY), kGoldenTol);
}

TEST(CcaGolden, Pairs) {
  const Layers x = {in("x")}, y = {in("y")};
  EXPECT_NEAR(scalar(la::cca_mean(x, y)), kCcaMeanXY, kGoldenTol);
  EXPECT_NEAR(scalar(la::svcca(x, y)), kSvccaXY99, kGoldenTol);  // default variance 0.99
  EXPECT_NEAR(scalar(la::svcca(x, y, 0.5)), kSvccaXY50, kGoldenTol);
  EXPECT_NEAR(scalar(la::pwcca(x, y)), kPwccaXY, kGoldenTol);
  EXPECT_NEAR(scalar(la::pwcca(y, x)), kPwccaYX, kGoldenTol);
}

// Also covers layers of different widths in one matrix (D = 3, 5, 8 against 7, 5).
TEST(CcaGolden, WholeMatrices) {
  const auto a = layers_a(), b = layers_b();
  const auto cca = la::cca_mean(a, b);
  EXPECT_EQ(cca.sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(cca.scalar_type(), torch::kFloat64);
  EXPECT_TRUE(cca.device().is_cpu());
  EXPECT_LT(max_abs_diff(cca, kCcaMeanAB), kGoldenTol);
  EXPECT_LT(max_abs_diff(la::svcca(a, b, 0.99), kSvcca99AB), kGoldenTol);
  EXPECT_LT(max_abs_diff(la::svcca(a, b, 0.5), kSvcca50AB), kGoldenTol);
  EXPECT_LT(max_abs_diff(la::pwcca(a, b), kPwccaAB), kGoldenTol);
  const auto ba = la::pwcca(b, a);
  EXPECT_EQ(ba.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_LT(max_abs_diff(ba, kPwccaBA), kGoldenTol);
}

TEST(CcaProperties, WholeMatrixEntriesEqualPairwise) {
  const auto a = layers_a(), b = layers_b();
  const auto cca = la::cca_mean(a, b), sv = la::svcca(a, b, 0.9), pw = la::pwcca(a, b);
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = 0; j < b.size(); ++j) {
      const auto ii = static_cast<int64_t>(i), jj = static_cast<int64_t>(j);
      const auto rho = la::canonical_correlations(a[i], b[j]);
      EXPECT_NEAR(cca[ii][jj].item<double>(), rho.square().mean().item<double>(), 1e-14);
      EXPECT_NEAR(cca[ii][jj].item<double>(), scalar(la::cca_mean({a[i]}, {b[j]})), 1e-14);
      EXPECT_NEAR(sv[ii][jj].item<double>(), scalar(la::svcca({a[i]}, {b[j]}, 0.9)), 1e-14);
      EXPECT_NEAR(pw[ii][jj].item<double>(), scalar(la::pwcca({a[i]}, {b[j]})), 1e-14);
    }
  }
}

TEST(CcaProperties, SameLayersMirrorMatchesFullComputation) {
  const auto a = layers_a();
  Layers copy;
  for (const auto& t : a) copy.push_back(t.clone());  // not the same tensors: no mirroring
  ASSERT_TRUE(la::same_layers(a, a));
  ASSERT_FALSE(la::same_layers(a, copy));
  const auto mirrored = la::cca_mean(a, a);
  EXPECT_LT(max_abs_diff(mirrored, la::cca_mean(a, copy)), 1e-12);
  EXPECT_TRUE(torch::equal(mirrored, mirrored.t()));
  const auto sv = la::svcca(a, a);
  EXPECT_LT(max_abs_diff(sv, la::svcca(a, copy)), 1e-12);
  EXPECT_TRUE(torch::equal(sv, sv.t()));
  EXPECT_LT(max_abs_diff(la::pwcca(a, a), la::pwcca(a, copy)), 1e-12);
}

TEST(CcaProperties, Symmetry) {
  const auto a = layers_a(), b = layers_b();
  EXPECT_LT(max_abs_diff(la::cca_mean(a, b), la::cca_mean(b, a).t()), 1e-12);
  EXPECT_LT(max_abs_diff(la::svcca(a, b), la::svcca(b, a).t()), 1e-12);
  EXPECT_LT(max_abs_diff(la::svcca(a, b, 0.5), la::svcca(b, a, 0.5).t()), 1e-12);
}

TEST(CcaProperties, PwccaIsAsymmetric) {
  const Layers x = {in("x")}, y = {in("y")};
  EXPECT_GT(std::abs(scalar(la::pwcca(x, y)) - scalar(la::pwcca(y, x))), 1e-3);
}

TEST(CcaProperties, SelfSimilarityIsOne) {
  const auto a = layers_a();
  const auto ones = torch::ones({3}, torch::kFloat64);
  EXPECT_LT(max_abs_diff(la::cca_mean(a, a).diagonal(), ones), 1e-12);
  EXPECT_LT(max_abs_diff(la::svcca(a, a).diagonal(), ones), 1e-12);
  EXPECT_LT(max_abs_diff(la::svcca(a, a, 0.5).diagonal(), ones), 1e-12);
  EXPECT_LT(max_abs_diff(la::pwcca(a, a).diagonal(), ones), 1e-12);
  EXPECT_LT(max_abs_diff(la::canonical_correlations(in("w"), in("w")), torch::ones({8})), 1e-12);
  // Off the diagonal the layers differ: the test above is not vacuous.
  EXPECT_LT(la::cca_mean(a, a)[0][2].item<double>(), 0.9);
}

TEST(CcaProperties, InvariantToInvertibleLinearMapsAndShifts) {
  torch::manual_seed(7);
  const auto x = in("x"), y = in("y");
  const auto mapped = x.mm(well_conditioned(5)) + torch::randn({1, 5}, torch::kFloat64) * 10.0;
  const auto shifted_y = y + 3.0;
  EXPECT_LT(max_abs_diff(la::canonical_correlations(mapped, shifted_y), kRhoXY), 1e-10);
  EXPECT_NEAR(scalar(la::cca_mean({mapped}, {shifted_y})), kCcaMeanXY, 1e-10);
  // A general linear map changes what SVCCA keeps and how PWCCA weighs: the map above really moves
  // them, so the invariance of cca_mean is not an accident of the data.
  EXPECT_GT(std::abs(scalar(la::pwcca({mapped}, {y})) - kPwccaXY), 1e-4);
  EXPECT_GT(std::abs(scalar(la::svcca({mapped}, {y}, 0.5)) - kSvccaXY50), 1e-4);
  // SVCCA is invariant to rotations, isotropic scaling and shifts; PWCCA to scaling and shifts.
  const auto q = std::get<0>(torch::linalg_qr(torch::randn({5, 5}, torch::kFloat64), "reduced"));
  const auto rotated = x.mm(q) * 2.5 - 1.0;
  EXPECT_NEAR(scalar(la::svcca({rotated}, {y})), kSvccaXY99, 1e-10);
  EXPECT_NEAR(scalar(la::svcca({rotated}, {y}, 0.5)), kSvccaXY50, 1e-10);
  EXPECT_NEAR(scalar(la::pwcca({x * 2.5 - 1.0}, {shifted_y})), kPwccaXY, 1e-10);
}

TEST(CcaProperties, ConstantColumnCountsAsAbsent) {
  const auto x = in("x"), y = in("y");
  for (const double c : {0.0, 7.3, 1000000.1}) {  // torch's mean of 50 x 1000000.1 is off by 2e-10
    SCOPED_TRACE(c);
    const auto col = torch::full({50, 1}, c, torch::kFloat64);
    const auto xc = torch::cat({x.slice(1, 0, 2), col, x.slice(1, 2, 5)}, 1);  // (50, 6)
    const Layers a = {xc}, b = {y};
    EXPECT_LT(max_abs_diff(la::canonical_correlations(xc, y), kRhoXY), 1e-10);
    EXPECT_NEAR(scalar(la::cca_mean(a, b)), kCcaMeanXY, 1e-10);
    EXPECT_NEAR(scalar(la::svcca(a, b)), kSvccaXY99, 1e-10);
    EXPECT_NEAR(scalar(la::svcca(a, b, 0.5)), kSvccaXY50, 1e-10);
    EXPECT_NEAR(scalar(la::pwcca(a, b)), kPwccaXY, 1e-10);
    EXPECT_NEAR(scalar(la::pwcca(b, a)), kPwccaYX, 1e-10);
  }
  // A duplicated feature adds no direction either (CCA sees the column space only).
  const auto dup = torch::cat({x, x.slice(1, 1, 2)}, 1);  // (50, 6)
  EXPECT_LT(max_abs_diff(la::canonical_correlations(dup, y), kRhoXY), 1e-10);
  EXPECT_NEAR(scalar(la::cca_mean({dup}, {y})), kCcaMeanXY, 1e-10);
}

TEST(CcaProperties, Float32MatchesFloat64) {
  const auto a = layers_a(), b = layers_b();
  Layers a32, b32;
  for (const auto& t : a) a32.push_back(t.to(torch::kFloat32));
  for (const auto& t : b) b32.push_back(t.to(torch::kFloat32));
  const auto cca = la::cca_mean(a32, b32);
  EXPECT_EQ(cca.scalar_type(), torch::kFloat64);
  EXPECT_LT(max_abs_diff(cca, kCcaMeanAB), 1e-4);
  EXPECT_LT(max_abs_diff(la::svcca(a32, b32), kSvcca99AB), 1e-4);
  EXPECT_LT(max_abs_diff(la::svcca(a32, b32, 0.5), kSvcca50AB), 1e-4);
  EXPECT_LT(max_abs_diff(la::pwcca(a32, b32), kPwccaAB), 1e-4);
  EXPECT_LT(max_abs_diff(la::canonical_correlations(in("x").to(torch::kFloat32), b32[0]), kRhoXY),
            1e-4);
}

TEST(CcaSize, RefusesLayersThatFillTheSampleSpace) {
  torch::manual_seed(3);
  const auto x = in("x");  // N = 50
  const auto wide = torch::randn({50, 60}, torch::kFloat64);
  const auto full = torch::randn({50, 49}, torch::kFloat64);  // rank 49 = N - 1: still degenerate
  const auto ok = torch::randn({50, 48}, torch::kFloat64);    // N = D + 2: the widest accepted

  auto msg = layerwise::testing::error_message([&] { la::cca_mean({x, wide}, {x}); });
  EXPECT_NE(msg.find("A layer 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("N = 50"), std::string::npos) << msg;
  EXPECT_NE(msg.find("D = 60"), std::string::npos) << msg;
  EXPECT_NE(msg.find("svcca"), std::string::npos) << msg;
  msg = layerwise::testing::error_message([&] { la::pwcca({x}, {full, x}); });
  EXPECT_NE(msg.find("B layer 0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("D = 49"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rank 49"), std::string::npos) << msg;
  EXPECT_THROW(la::cca_mean({full}, {x}), layerwise::Error);

  // Accepted, though rank 48 + rank 5 > N - 1 already forces some correlations to 1 (documented).
  EXPECT_TRUE(std::isfinite(scalar(la::cca_mean({ok}, {x}))));
  EXPECT_NO_THROW(la::pwcca({ok}, {x}));

  // The rule counts rank, not columns: 60 columns spanning 5 directions are fine, and equal x.
  const auto repeated = x.repeat({1, 12});  // (50, 60)
  EXPECT_NEAR(scalar(la::cca_mean({repeated}, {in("y")})), kCcaMeanXY, 1e-10);

  // SVCCA is the way out: it checks the directions it keeps, not the width.
  const auto sv = scalar(la::svcca({wide}, {x}, 0.5));
  EXPECT_TRUE(std::isfinite(sv));
  EXPECT_LT(sv, 0.99);
  msg = layerwise::testing::error_message([&] { la::svcca({x}, {wide}, 1.0); });
  EXPECT_NE(msg.find("B layer 0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("variance"), std::string::npos) << msg;
}

TEST(CcaSize, ConstantLayer) {
  const auto constant = torch::full({50, 4}, 2.0, torch::kFloat64);
  EXPECT_EQ(la::canonical_correlations(constant, in("x")).numel(), 0);
  const auto msg = layerwise::testing::error_message([&] {
    la::cca_mean({in("x")}, {in("y"), constant});
  });
  EXPECT_NE(msg.find("B layer 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("constant"), std::string::npos) << msg;
  EXPECT_THROW(la::svcca({constant}, {in("x")}), layerwise::Error);
  EXPECT_THROW(la::pwcca({constant}, {in("x")}), layerwise::Error);
}

TEST(CcaInput, RejectsBadInput) {
  auto x = in("x").clone();
  x[3][2] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(la::cca_mean({x}, {in("y")}), layerwise::Error);
  EXPECT_THROW(la::canonical_correlations(in("y"), x), layerwise::Error);
  EXPECT_THROW(la::cca_mean({in("x")}, {in("y").slice(0, 0, 40)}), layerwise::Error);  // N differs
  for (const double v : {0.0, -0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_THROW(la::svcca({in("x")}, {in("y")}, v), layerwise::Error) << v;
  }
}

}  // namespace
