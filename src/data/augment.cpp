#include "layerwise/data/augment.h"

#include "layerwise/core/error.h"

namespace layerwise::data {

AugmentPlan plan_augmentation(int64_t n, uint64_t seed, int64_t epoch) {
  // A generator of its own, distinct from the batch order's (seed + a constant).
  auto generator = at::detail::createCPUGenerator(seed * 1000003ULL + 0x5eedULL + uint64_t(epoch));
  auto shifts = torch::randint(0, 2 * kMaxShift + 1, {n, 2}, generator, torch::kInt64);
  auto flips = torch::randint(0, 2, {n}, generator, torch::kInt64).to(torch::kBool);
  return {shifts, flips};
}

torch::Tensor augment_images(const torch::Tensor& images, const torch::Tensor& shifts,
                             const torch::Tensor& flips, double fill) {
  LW_CHECK(images.dim() == 4 && shifts.size(0) == images.size(0) && flips.size(0) == images.size(0),
           "augment_images: expected (B, C, H, W) images with B shifts and flips");
  const int64_t batch = images.size(0), height = images.size(2), width = images.size(3);
  const auto padded =
      torch::constant_pad_nd(images, {kMaxShift, kMaxShift, kMaxShift, kMaxShift}, fill)
          .permute({0, 2, 3, 1});  // (B, H + 4, W + 4, C)
  const auto options = shifts.options();
  const auto rows = shifts.slice(1, 0, 1) + torch::arange(height, options);  // (B, H)
  auto cols = shifts.slice(1, 1, 2) + torch::arange(width, options);         // (B, W)
  cols = torch::where(flips.unsqueeze(1), cols.flip({1}), cols);             // (B, W)
  const auto sample = torch::arange(batch, options).view({batch, 1, 1});     // (B, 1, 1)
  return padded
      .index({sample, rows.unsqueeze(2), cols.unsqueeze(1)})  // (B, H, W, C)
      .permute({0, 3, 1, 2})                                  // (B, C, H, W)
      .contiguous();
}

}  // namespace layerwise::data
