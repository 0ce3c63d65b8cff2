#include "layerwise/data/stratified_split.h"

#include <algorithm>
#include <map>

#include "layerwise/core/error.h"

namespace layerwise::data {

namespace {

// Splitmix64 (Steele, Lea, Flood 2014): a fixed, portable generator, unlike std::shuffle and the
// std distributions whose output differs between standard libraries.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n), n > 0, by rejection: no modulo bias.
  uint64_t below(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    for (;;) {
      const uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }

 private:
  uint64_t state_;
};

// Fisher-Yates with a generator seeded from (seed, stream): each class shuffles independently.
void seeded_shuffle(std::vector<int64_t>& items, uint64_t seed, uint64_t stream) {
  SplitMix64 rng(SplitMix64(seed ^ (stream * 0xd1b54a32d192ed03ULL)).next());
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.below(i)]);
}

// Samples by label, in index order; one group of all samples when unlabelled.
std::map<int64_t, std::vector<int64_t>> samples_by_label(const std::vector<int64_t>& labels,
                                                         int64_t n) {
  std::map<int64_t, std::vector<int64_t>> groups;
  for (int64_t i = 0; i < n; ++i) groups[labels.empty() ? 0 : labels[i]].push_back(i);
  return groups;
}

}  // namespace

SplitIndex stratified_split(const std::vector<int64_t>& labels, int64_t n, double val_fraction,
                            double test_fraction, uint64_t seed) {
  // Written so that NaN fails too.
  LW_CHECK(val_fraction >= 0 && val_fraction < 1, "validation fraction must be in [0, 1), got ",
           val_fraction);
  LW_CHECK(test_fraction >= 0 && test_fraction < 1, "test fraction must be in [0, 1), got ",
           test_fraction);
  LW_CHECK(val_fraction + test_fraction < 1, "validation + test fractions must be below 1, got ",
           val_fraction, " + ", test_fraction);
  LW_CHECK(labels.empty() || int64_t(labels.size()) == n, "split: ", n, " samples but ",
           labels.size(), " labels");
  SplitIndex split;
  for (auto& [label, members] : samples_by_label(labels, n)) {
    const auto count = static_cast<int64_t>(members.size());
    const int64_t n_test =
        std::min(count - 1, static_cast<int64_t>(std::llround(test_fraction * count)));
    const int64_t n_val =
        std::min(count - 1 - n_test, static_cast<int64_t>(std::llround(val_fraction * count)));
    seeded_shuffle(members, seed, static_cast<uint64_t>(label));
    split.test.insert(split.test.end(), members.begin(), members.begin() + n_test);
    split.val.insert(split.val.end(), members.begin() + n_test, members.begin() + n_test + n_val);
    split.train.insert(split.train.end(), members.begin() + n_test + n_val, members.end());
  }
  // Each part in a seeded order that mixes the classes, so that its first N samples
  // (--train-limit, --samples) are a fair sample rather than one class.
  uint64_t stream = uint64_t(1) << 32;
  for (auto* part : {&split.train, &split.val, &split.test}) {
    std::sort(part->begin(), part->end());
    seeded_shuffle(*part, seed, stream++);
  }
  return split;
}

}  // namespace layerwise::data
