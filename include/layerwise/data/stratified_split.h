// Seeded train / validation / test splits of labelled samples, the same on every machine.
#pragma once

#include <cstdint>
#include <vector>

namespace layerwise::data {

/// Sample indices of the three parts, each in a seeded order that mixes the classes (so that the
/// first N of a part are a fair sample of it).
struct SplitIndex {
  std::vector<int64_t> train, val, test;
};

/// Splits samples 0..n-1, stratified by label when `labels` is not empty (each class split in the
/// same proportions, rounded per class, every class keeping at least one training sample), one
/// seeded permutation of all samples otherwise. val_fraction and test_fraction are in [0, 1) with
/// a sum below 1; throws layerwise::Error otherwise or when labels and n disagree.
SplitIndex stratified_split(const std::vector<int64_t>& labels, int64_t n, double val_fraction,
                            double test_fraction, uint64_t seed);

}  // namespace layerwise::data
