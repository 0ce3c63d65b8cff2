// The training step: the same arithmetic as its parts run by hand (CPU), and on the GPU machine
// the fused optimizer against the per-parameter loop, graph replays against eager steps, and
// CUDA against the CPU (the CUDA tests skip where there is no GPU).
#include "layerwise/train/train_step.h"
#include "layerwise/model/layered_model.h"
#include "layerwise/train/objective.h"
#include "layerwise/train/optimizer.h"
#include "test_util.h"

namespace lm = layerwise::model;
namespace lt = layerwise::train;
using layerwise::testing::max_diff;

namespace {

lm::ModelPtr small_vit(lt::Objective objective, const torch::Device& device) {
  torch::manual_seed(7);
  auto config = lm::vit_preset("tiny");
  config.n_layers = 3;
  config.heads = lt::head_mode_for(objective);
  auto model = lm::make_model(config);
  model->to(device);
  model->train();
  return model;
}

struct Batch {
  torch::Tensor x, y;
};

// Fresh random batches (never zeros), the same on every call.
std::vector<Batch> batches(int64_t count, int64_t size, const torch::Device& device) {
  torch::manual_seed(11);
  std::vector<Batch> out;
  for (int64_t i = 0; i < count; ++i)
    out.push_back({torch::randn({size, 1, 28, 28}).to(device),
                   torch::randint(0, 10, {size}, torch::kInt64).to(device)});
  return out;
}

lt::StepSettings settings_for(lt::Objective objective, const torch::Device& device, bool graphs,
                              bool bf16 = false) {
  const auto weights =
      torch::tensor(lt::layer_weights(lt::LayerWeighting::linear, 3), torch::kFloat64);
  return {objective, weights.to(device, torch::kFloat32), 0.1, 1.0, bf16, graphs};
}

double max_weight_diff(lm::LayeredModel& a, lm::LayeredModel& b) {
  const auto pa = lt::named_parameters(a), pb = lt::named_parameters(b);
  double worst = 0;
  for (size_t i = 0; i < pa.size(); ++i)
    worst = std::max(worst, max_diff(pa[i].second.cpu(), pb[i].second.cpu()));
  return worst;
}

// Steps of `objective` on `device` from the same start; returns the model after them.
lm::ModelPtr train_steps(lt::Objective objective, const torch::Device& device, int64_t steps,
                         bool graphs, bool fused = true, std::vector<double>* losses = nullptr) {
  auto model = small_vit(objective, device);
  lt::AdamW optimizer(lt::named_parameters(*model), {0.9, 0.999, 1e-8, 0.05, fused});
  lt::TrainStep step(*model, optimizer, settings_for(objective, device, graphs));
  int64_t i = 0;
  for (const auto& b : batches(steps, 16, device)) {
    // A learning rate that changes every step, as the warm-up + cosine schedule's: a replay must
    // read the current one, not the one of its capture.
    const auto out = step.run(b.x, b.y, 1e-3 * double(++i) / double(steps));
    if (losses) losses->push_back(out.loss.item<double>());
  }
  if (graphs && step.uses_graphs()) {
    EXPECT_EQ(step.replayed_steps(), steps - 2);
  }
  return model;
}

}  // namespace

TEST(TrainStep, IsTheObjectiveBackwardClipAndAdamW) {
  const torch::Device cpu(torch::kCPU);
  for (const auto objective : {lt::Objective::standard, lt::Objective::aligned}) {
    auto by_step = small_vit(objective, cpu), by_hand = small_vit(objective, cpu);
    lt::AdamW opt_step(lt::named_parameters(*by_step), {}),
        opt_hand(lt::named_parameters(*by_hand), {});
    const auto settings = settings_for(objective, cpu, /*graphs=*/true);
    lt::TrainStep step(*by_step, opt_step, settings);
    EXPECT_FALSE(step.uses_graphs());  // CPU: always eager
    for (const auto& b : batches(3, 8, cpu)) {
      const auto out = step.run(b.x, b.y, 2e-3);
      auto result = lt::objective_loss(*by_hand, objective, settings.layer_weights, b.x, b.y, 0.1);
      result.loss.backward();
      const auto norm = lt::clip_grad_norm(opt_hand.parameters(), 1.0);
      opt_hand.step(2e-3);
      opt_hand.zero_grad();
      EXPECT_NEAR(out.loss.item<double>(), result.loss.item<double>(), 1e-6);
      EXPECT_NEAR(out.grad_norm.item<double>(), norm.item<double>(), 1e-5);
    }
    EXPECT_LT(max_weight_diff(*by_step, *by_hand), 1e-6);
    for (const auto& [name, p] : opt_step.parameters()) EXPECT_FALSE(p.grad().defined()) << name;
  }
}

TEST(TrainStepCuda, FusedAdamWMatchesTheLoop) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device cuda(torch::kCUDA);
  auto fused = train_steps(lt::Objective::aligned, cuda, 6, /*graphs=*/false, /*fused=*/true);
  auto loop = train_steps(lt::Objective::aligned, cuda, 6, /*graphs=*/false, /*fused=*/false);
  EXPECT_LT(max_weight_diff(*fused, *loop), 1e-5);
}

TEST(TrainStepCuda, GraphReplaysGiveTheWeightsOfEagerSteps) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device cuda(torch::kCUDA);
  for (const auto objective : {lt::Objective::standard, lt::Objective::aligned}) {
    std::vector<double> graph_losses, eager_losses;
    auto graphed = train_steps(objective, cuda, 10, /*graphs=*/true, true, &graph_losses);
    auto eager = train_steps(objective, cuda, 10, /*graphs=*/false, true, &eager_losses);
    for (size_t i = 0; i < graph_losses.size(); ++i)
      EXPECT_NEAR(graph_losses[i], eager_losses[i], 1e-5) << "step " << i;
    EXPECT_LT(max_weight_diff(*graphed, *eager), 1e-5);
  }
}

TEST(TrainStepCuda, CpuAndCudaGiveTheSameSteps) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  std::vector<double> cpu_losses, cuda_losses;
  auto on_cpu = train_steps(lt::Objective::aligned, torch::kCPU, 4, false, true, &cpu_losses);
  auto on_cuda = train_steps(lt::Objective::aligned, torch::kCUDA, 4, true, true, &cuda_losses);
  for (size_t i = 0; i < cpu_losses.size(); ++i)
    EXPECT_NEAR(cpu_losses[i], cuda_losses[i], 1e-4) << "step " << i;
  // Adam divides by the gradient's magnitude: a near-zero gradient may step differently, but by
  // less than one learning rate (1e-3); a wrong update would differ by several.
  EXPECT_LT(max_weight_diff(*on_cpu, *on_cuda), 5e-4);
}
