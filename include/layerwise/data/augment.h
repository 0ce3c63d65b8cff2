// Training-time image augmentation, planned per epoch from a seed so that runs are reproducible,
// resumable mid-epoch and identical on CPU and GPU: a random shift of up to +-2 pixels (zero
// padding) and a horizontal flip with probability 1/2.
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace layerwise::data {

struct AugmentPlan {
  torch::Tensor shifts;  // (N, 2) int64 in [0, 2 * kMaxShift]: crop offsets (rows, columns)
  torch::Tensor flips;   // (N) bool
};

constexpr int64_t kMaxShift = 2;

/// The plan for n samples in epoch `epoch` of a run seeded with `seed` (CPU tensors).
AugmentPlan plan_augmentation(int64_t n, uint64_t seed, int64_t epoch);

/// Shifts and flips each image of (B, C, H, W) `images` as planned by shifts (B, 2) and flips (B)
/// (same device); pixels shifted in take `fill` (the normalized value of black).
torch::Tensor augment_images(const torch::Tensor& images, const torch::Tensor& shifts,
                             const torch::Tensor& flips, double fill);

}  // namespace layerwise::data
