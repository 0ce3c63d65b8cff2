// Tests of the seeded text splits: sizes, disjointness, stratification, determinism pinned across
// machines, the mixed order within each part, and refusals of bad fractions.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "layerwise/core/error.h"
#include "layerwise/data/text_corpus.h"
#include "test_util.h"

namespace layerwise::data {
namespace {

using layerwise::testing::label_counts;

using layerwise::testing::contains;
using layerwise::testing::error_message;

/// n documents "0".."n-1"; labelled i % n_classes when n_classes > 0.
TextCorpus numbered_corpus(int n, int n_classes) {
  TextCorpus corpus;
  for (int i = 0; i < n; ++i) {
    corpus.texts.push_back(std::to_string(i));
    if (n_classes > 0) corpus.labels.push_back(i % n_classes);
  }
  for (int k = 0; k < n_classes; ++k) corpus.class_names.push_back("c" + std::to_string(k));
  return corpus;
}

/// The indices of a split's documents, read back from their texts.
std::vector<int64_t> ids(const TextCorpus& part) {
  std::vector<int64_t> out;
  for (const auto& text : part.texts) out.push_back(std::stoll(text));
  return out;
}

TEST(TextCorpusSplit, SizesDisjointAndComplete) {
  const auto corpus = numbered_corpus(1000, 0);
  const auto splits = split_corpus(corpus, 0.1, 0.2, 1);
  EXPECT_EQ(splits.train.texts.size(), 700u);
  EXPECT_EQ(splits.val.texts.size(), 100u);
  EXPECT_EQ(splits.test.texts.size(), 200u);
  std::set<int64_t> all;
  for (const auto* part : {&splits.train, &splits.val, &splits.test}) {
    const auto part_ids = ids(*part);
    EXPECT_FALSE(std::is_sorted(part_ids.begin(), part_ids.end()));  // a mixed, seeded order
    all.insert(part_ids.begin(), part_ids.end());
    EXPECT_TRUE(part->labels.empty());
  }
  EXPECT_EQ(all.size(), 1000u);  // disjoint and complete
  EXPECT_EQ(*all.begin(), 0);
  EXPECT_EQ(*all.rbegin(), 999);
}

TEST(TextCorpusSplit, StratifiedProportions) {
  // Classes of 600, 300 and 100 documents (labels by i % 10: 0-5, 6-8, 9).
  auto corpus = numbered_corpus(1000, 10);
  for (auto& label : corpus.labels) label = label < 6 ? 0 : label < 9 ? 1 : 2;
  corpus.class_names = {"a", "b", "c"};
  const auto splits = split_corpus(corpus, 0.1, 0.25, 3);
  EXPECT_EQ(label_counts(splits.train.labels),
            (std::map<int64_t, int64_t>{{0, 390}, {1, 195}, {2, 65}}));
  EXPECT_EQ(label_counts(splits.val.labels),
            (std::map<int64_t, int64_t>{{0, 60}, {1, 30}, {2, 10}}));
  EXPECT_EQ(label_counts(splits.test.labels),
            (std::map<int64_t, int64_t>{{0, 150}, {1, 75}, {2, 25}}));
  EXPECT_EQ(splits.val.class_names, corpus.class_names);
  for (const auto* part : {&splits.train, &splits.val, &splits.test}) {
    const auto part_ids = ids(*part);
    for (size_t i = 0; i < part_ids.size(); ++i)  // each text keeps its own label
      ASSERT_EQ(part->labels[i], corpus.labels[part_ids[i]]);
  }
}

TEST(TextCorpusSplit, DeterministicAndPinned) {
  const auto corpus = numbered_corpus(10, 0);
  const auto a = split_indices(corpus, 0.2, 0.3, 42);
  const auto b = split_indices(corpus, 0.2, 0.3, 42);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.val, b.val);
  EXPECT_EQ(a.test, b.test);
  // Pinned (and cross-checked with an independent Python splitmix64 / Fisher-Yates): the split
  // must not change between machines, compilers or releases.
  auto sorted = [](std::vector<int64_t> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(sorted(a.train), (std::vector<int64_t>{1, 2, 3, 5, 8}));
  EXPECT_EQ(sorted(a.val), (std::vector<int64_t>{0, 9}));
  EXPECT_EQ(sorted(a.test), (std::vector<int64_t>{4, 6, 7}));
  // The order within each part is pinned too (the same generator, one stream per part).
  EXPECT_EQ(a.train, (std::vector<int64_t>{5, 1, 3, 2, 8}));
  EXPECT_EQ(a.test, (std::vector<int64_t>{4, 7, 6}));
}

TEST(TextCorpusSplit, DifferentSeedsDiffer) {
  const auto corpus = numbered_corpus(200, 2);
  const auto a = split_indices(corpus, 0.1, 0.1, 1);
  const auto b = split_indices(corpus, 0.1, 0.1, 2);
  EXPECT_NE(a.test, b.test);
  EXPECT_NE(a.val, b.val);
  EXPECT_EQ(a.test.size(), b.test.size());
}

TEST(TextCorpusSplit, EveryClassKeepsATrainingDocument) {
  auto corpus = numbered_corpus(5, 0);
  corpus.labels = {0, 1, 1, 2, 2};
  corpus.class_names = {"a", "b", "c"};
  const auto splits = split_corpus(corpus, 0.45, 0.45, 0);
  EXPECT_EQ(label_counts(splits.train.labels),
            (std::map<int64_t, int64_t>{{0, 1}, {1, 1}, {2, 1}}));
  EXPECT_EQ(splits.train.texts.size() + splits.val.texts.size() + splits.test.texts.size(), 5u);
}

TEST(TextCorpusSplit, ZeroFractionsKeepEverythingForTraining) {
  const auto corpus = numbered_corpus(7, 2);
  const auto splits = split_corpus(corpus, 0, 0, 9);
  auto texts = splits.train.texts;
  std::sort(texts.begin(), texts.end());
  EXPECT_EQ(texts, corpus.texts);  // all of them (numbered texts sort in corpus order)
  const auto part_ids = ids(splits.train);
  for (size_t i = 0; i < part_ids.size(); ++i)
    EXPECT_EQ(splits.train.labels[i], corpus.labels[part_ids[i]]);
  EXPECT_TRUE(splits.val.texts.empty());
  EXPECT_TRUE(splits.test.texts.empty());
}

TEST(TextCorpusSplit, BadFractionsRefused) {
  const auto corpus = numbered_corpus(10, 2);
  EXPECT_PRED2(contains, error_message([&] { split_corpus(corpus, -0.1, 0.1, 0); }),
               "validation fraction must be in [0, 1), got -0.1");
  EXPECT_PRED2(contains, error_message([&] { split_corpus(corpus, 0.1, 1, 0); }),
               "test fraction must be in [0, 1), got 1");
  EXPECT_PRED2(contains, error_message([&] { split_corpus(corpus, 0.5, 0.5, 0); }),
               "must be below 1, got 0.5 + 0.5");
  EXPECT_PRED2(contains, error_message([&] { split_corpus(corpus, std::nan(""), 0.1, 0); }),
               "validation fraction");
}

TEST(TextCorpusSplit, InconsistentCorpusRefused) {
  auto corpus = numbered_corpus(4, 2);
  corpus.labels.pop_back();
  EXPECT_PRED2(contains, error_message([&] { split_corpus(corpus, 0.1, 0.1, 0); }),
               "corpus has 4 texts but 3 labels");
  corpus = numbered_corpus(4, 2);
  corpus.labels[1] = 2;
  EXPECT_PRED2(contains, error_message([&] { split_corpus(corpus, 0.1, 0.1, 0); }),
               "label 2 is out of range for 2 classes");
}

TEST(TextCorpusSplit, SubsetTakesTheGivenOrder) {
  const auto corpus = numbered_corpus(5, 2);
  const auto part = subset(corpus, {4, 1});
  EXPECT_EQ(part.texts, (std::vector<std::string>{"4", "1"}));
  EXPECT_EQ(part.labels, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(part.class_names, corpus.class_names);
  EXPECT_PRED2(contains, error_message([&] { subset(corpus, {5}); }), "index 5 is out of range");
}

}  // namespace
}  // namespace layerwise::data
