// Similarity from sums over shards of the samples (what a distributed job all-reduces) equals the
// similarity of all samples at once; the shards a job takes hold whole minibatches.
#include "layerwise/analysis/similarity_sums.h"
#include "layerwise/analysis/cka.h"
#include "layerwise/analysis/similarity.h"
#include "layerwise/workflow/sharded_similarity.h"
#include "test_util.h"

namespace la = layerwise::analysis;
using layerwise::testing::error_message;
using layerwise::testing::max_diff;

namespace {

const std::vector<std::string> kSummable = {"cos", "cka_linear", "cka_debiased", "cka_minibatch"};

// Four float32 layers of one width drifting from a common random start, on a large common offset
// (as residual streams have), which centering with each shard's own means would get wrong.
la::Layers drifting_layers(int64_t n) {
  torch::manual_seed(7);
  la::Layers layers{torch::randn({n, 16}) + 40.0};
  for (int l = 1; l < 4; ++l) layers.push_back(layers.back() + 0.6 * torch::randn({n, 16}));
  return layers;
}

la::Layers rows_of(const la::Layers& layers, int64_t begin, int64_t end) {
  la::Layers out;
  for (const auto& x : layers) out.push_back(x.slice(0, begin, end));
  return out;
}

// The measures from the sums of the given shards, added as an all-reduce would add them.
std::map<std::string, torch::Tensor> from_shards(
    const la::Layers& layers, const std::vector<std::pair<int64_t, int64_t>>& shards,
    int64_t minibatch) {
  const auto means = la::column_sums(layers) / double(layers.front().size(0));
  la::SimilaritySums total;
  for (const auto& [begin, end] : shards) {
    const auto sums = la::similarity_sums(kSummable, rows_of(layers, begin, end), means, minibatch);
    if (!total.count.defined()) {
      total = sums;
      continue;
    }
    auto into = total.tensors();
    const auto add = sums.tensors();
    for (size_t i = 0; i < into.size(); ++i) into[i].add_(add[i]);
  }
  std::vector<int64_t> widths(layers.size(), 16);
  return la::similarity_from_sums(kSummable, total, widths);
}

}  // namespace

TEST(SimilaritySums, ShardsAddUpToTheWholeSet) {
  const auto layers = drifting_layers(301);
  la::SimilarityOptions options;
  options.minibatch_size = 64;
  const auto whole = la::compute_similarity(kSummable, layers, layers, options);
  for (int ranks : {1, 2, 3}) {
    std::vector<std::pair<int64_t, int64_t>> shards;
    for (int rank = 0; rank < ranks; ++rank)
      shards.push_back(layerwise::workflow::similarity_shard(301, kSummable, 64, rank, ranks));
    const auto summed = from_shards(layers, shards, 64);
    for (const auto& metric : kSummable) {
      ASSERT_TRUE(summed.count(metric)) << metric;
      EXPECT_LT(max_diff(summed.at(metric), whole.at(metric)), 1e-5)
          << metric << " on " << ranks << " shards";
    }
  }
  // Not a property that holds by construction: the layers do drift apart.
  EXPECT_LT(whole.at("cka_linear")[0][3].item<double>(), 0.9);
}

TEST(SimilaritySums, ShardsHoldWholeMinibatchesAndCoverEverySample) {
  // 301 samples in minibatches of 64: [0,64) ... [192,256) and [256,301).
  const auto batches = la::minibatch_ranges(301, 64);
  ASSERT_EQ(batches.size(), 5u);
  EXPECT_EQ(batches.back(), std::make_pair(int64_t{256}, int64_t{301}));
  EXPECT_EQ(la::minibatch_ranges(259, 64).back(), std::make_pair(int64_t{192}, int64_t{259}));
  for (int ranks : {1, 2, 3, 5}) {
    int64_t next = 0;
    for (int rank = 0; rank < ranks; ++rank) {
      const auto [begin, end] =
          layerwise::workflow::similarity_shard(301, {"cka_minibatch"}, 64, rank, ranks);
      EXPECT_EQ(begin, next);
      EXPECT_EQ(begin % 64, 0);
      next = end;
    }
    EXPECT_EQ(next, 301);
  }
  // Without cka_minibatch, an even split.
  EXPECT_EQ(layerwise::workflow::similarity_shard(301, {"cos"}, 64, 1, 2),
            std::make_pair(int64_t{151}, int64_t{301}));
}

TEST(SimilaritySums, TooFewMinibatchesForTheRanksIsRefused) {
  const auto message = error_message(
      [] { layerwise::workflow::similarity_shard(301, {"cka_minibatch"}, 64, 0, 6); });
  EXPECT_NE(message.find("5 minibatches of 64, fewer than the 6 ranks"), std::string::npos)
      << message;
  EXPECT_NE(error_message([] {
              layerwise::workflow::similarity_shard(3, {"cos"}, 64, 0, 4);
            }).find("3 samples for 4 ranks"),
            std::string::npos);
}
