// model::add_layer_norm: the ATen path equals the unfused ops bitwise (forward and gradients), and
// on a GPU the fused kernels equal that composition within float32 / bf16 rounding for every
// dtype mix, shapes that exercise each kernel variant, autocast, and repeated backward calls.
#include <tuple>
#include <vector>

#include "layerwise/core/compat.h"
#include "layerwise/model/block.h"
#include "layerwise/model/fused_layer_norm.h"
#include "test_util.h"

namespace lm = layerwise::model;
using layerwise::testing::error_message;
using layerwise::testing::relative_error;

namespace {

struct Inputs {
  torch::Tensor x, delta, weight, bias;  // leaves that require grad; delta may be undefined
};

Inputs make_inputs(int64_t rows, int64_t width, torch::Dtype x_dtype, torch::Dtype delta_dtype,
                   bool with_delta, const torch::Device& device) {
  const auto f32 = torch::TensorOptions().device(device);
  Inputs in;
  // A residual stream with an offset and scale per row, so that the mean and variance matter.
  in.x = (torch::randn({rows, width}, f32) * 2 + torch::randn({rows, 1}, f32))
             .to(x_dtype)
             .requires_grad_();
  if (with_delta) in.delta = torch::randn({rows, width}, f32).to(delta_dtype).requires_grad_();
  in.weight = (1 + 0.3 * torch::randn({width}, f32)).requires_grad_();
  in.bias = (0.1 * torch::randn({width}, f32)).requires_grad_();
  return in;
}

// The unfused ops the fused path must match: add (in float32, rounded to x's dtype), float32
// LayerNorm, cast.
lm::AddNormResult composition(const Inputs& in, double eps, torch::Dtype out_dtype) {
  auto sum = in.x;
  if (in.delta.defined())
    sum = (in.x.to(torch::kFloat) + in.delta.to(torch::kFloat)).to(in.x.scalar_type());
  const auto normed =
      torch::layer_norm(sum.to(torch::kFloat), {in.x.size(-1)}, in.weight, in.bias, eps);
  return {sum, normed.to(out_dtype)};
}

struct Grads {
  torch::Tensor x, delta, weight, bias;
};

// Backpropagates fixed upstream gradients of both outputs (grad_sum only when there is a delta:
// otherwise the sum is x itself).
Grads backward(const Inputs& in, const lm::AddNormResult& out, const torch::Tensor& grad_sum,
               const torch::Tensor& grad_normed) {
  for (auto t : {in.x, in.delta, in.weight, in.bias})
    if (t.defined() && t.grad().defined()) t.grad().zero_();
  std::vector<torch::Tensor> outputs{out.normed}, grads{grad_normed.to(out.normed.scalar_type())};
  if (in.delta.defined()) {
    outputs.push_back(out.sum);
    grads.push_back(grad_sum.to(out.sum.scalar_type()));
  }
  torch::autograd::backward(outputs, grads);
  return {in.x.grad().clone(), in.delta.defined() ? in.delta.grad().clone() : torch::Tensor(),
          in.weight.grad().clone(), in.bias.grad().clone()};
}

bool skip_cuda() {
  return !torch::cuda::is_available() || !lm::fused_layer_norm_available();
}

}  // namespace

TEST(AddLayerNorm, AtenPathIsTheUnfusedBlockBitwise) {
  torch::manual_seed(0);
  const double eps = 1e-6;
  auto norm = lm::make_layer_norm(24, eps);
  {
    torch::NoGradGuard no_grad;
    norm->weight.normal_(1.0, 0.3);
    norm->bias.normal_(0.0, 0.1);
  }
  const auto x = torch::randn({3, 5, 24}).requires_grad_();
  const auto delta = torch::randn({3, 5, 24}).requires_grad_();
  const auto grad_sum = torch::randn({3, 5, 24}), grad_normed = torch::randn({3, 5, 24});

  const auto h = x + delta;  // what TransformerBlockImpl::forward computes today
  const auto n = norm(h);
  torch::autograd::backward({h, n}, {grad_sum, grad_normed});
  const auto expected = std::make_tuple(x.grad().clone(), delta.grad().clone(),
                                        norm->weight.grad().clone(), norm->bias.grad().clone());
  for (auto t : {x, delta, norm->weight, norm->bias}) t.grad().zero_();

  const auto out = lm::add_layer_norm(x, delta, norm->weight, norm->bias, eps, torch::kFloat);
  EXPECT_TRUE(torch::equal(out.sum, h));
  EXPECT_TRUE(torch::equal(out.normed, n));
  torch::autograd::backward({out.sum, out.normed}, {grad_sum, grad_normed});
  EXPECT_TRUE(torch::equal(x.grad(), std::get<0>(expected)));
  EXPECT_TRUE(torch::equal(delta.grad(), std::get<1>(expected)));
  EXPECT_TRUE(torch::equal(norm->weight.grad(), std::get<2>(expected)));
  EXPECT_TRUE(torch::equal(norm->bias.grad(), std::get<3>(expected)));
}

TEST(AddLayerNorm, AtenPathWithoutDeltaIsLayerNormOfX) {
  torch::manual_seed(1);
  auto norm = lm::make_layer_norm(16, 1e-5);
  const auto x = torch::randn({7, 16}).requires_grad_();
  const auto out = lm::add_layer_norm(x, {}, norm->weight, norm->bias, 1e-5, torch::kFloat);
  EXPECT_TRUE(out.sum.is_same(x));  // the residual stream passes through untouched
  EXPECT_TRUE(torch::equal(out.normed, norm(x)));
  const auto grad = torch::randn({7, 16});
  const auto expected = torch::autograd::grad({norm(x)}, {x}, {grad})[0];
  EXPECT_TRUE(torch::equal(torch::autograd::grad({out.normed}, {x}, {grad})[0], expected));
}

TEST(AddLayerNorm, AtenPathDtypes) {
  torch::manual_seed(2);
  const auto weight = torch::rand({8}) + 0.5, bias = torch::randn({8});
  const auto x = torch::randn({4, 8}), delta = torch::randn({4, 8});
  // bf16 output: the float32 LayerNorm rounded once.
  const auto out = lm::add_layer_norm(x, delta, weight, bias, 1e-5, torch::kBFloat16);
  EXPECT_EQ(out.sum.scalar_type(), torch::kFloat);
  EXPECT_EQ(out.normed.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(
      out.normed, torch::layer_norm(x + delta, {8}, weight, bias, 1e-5).to(torch::kBFloat16)));
  // bf16 stream + float32 delta: the sum keeps the stream's dtype, statistics in float32.
  const auto xb = x.to(torch::kBFloat16);
  const auto mixed = lm::add_layer_norm(xb, delta, weight, bias, 1e-5, torch::kFloat);
  EXPECT_EQ(mixed.sum.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(mixed.sum, (xb.to(torch::kFloat) + delta).to(torch::kBFloat16)));
  EXPECT_TRUE(torch::equal(
      mixed.normed, torch::layer_norm(mixed.sum.to(torch::kFloat), {8}, weight, bias, 1e-5)));
}

TEST(AddLayerNorm, ChecksShapesAndDtypes) {
  const auto w = torch::ones({8}), b = torch::zeros({8});
  const auto x = torch::randn({2, 8});
  EXPECT_NE(error_message([&] {
              lm::add_layer_norm(x, torch::randn({2, 7}), w, b, 1e-5, torch::kFloat);
            }).find("delta has shape"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              lm::add_layer_norm(x, {}, torch::ones({7}), b, 1e-5, torch::kFloat);
            }).find("weight must have shape (8)"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              lm::add_layer_norm(torch::ones({2, 8}, torch::kLong), {}, w, b, 1e-5, torch::kFloat);
            }).find("x must be floating"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              lm::add_layer_norm(x, {}, w, b, 1e-5, torch::kInt);
            }).find("out_dtype must be floating"),
            std::string::npos);
}

// Every dtype mix and the shapes of each kernel variant: one warp per row (64, 192), several
// warps (768, 4096), two vectors per thread (8192), scalar loads (1000 is a multiple of 8 and
// takes the vector path; 1001 and 100 do not), and 1, 7 and 12,800 rows.
TEST(AddLayerNormCuda, FusedMatchesComposition) {
  if (skip_cuda()) GTEST_SKIP() << "needs CUDA and the fused kernels";
  const torch::Device device(torch::kCUDA);
  const double eps = 1e-6;
  int cases = 0;
  for (const int64_t width : {64, 100, 192, 768, 1000, 1001, 4096, 8192}) {
    for (const int64_t rows : {1, 7, 50 * 256}) {
      if (width >= 4096 && rows > 7) continue;  // the large rows run at 768 (ViT-B) and below
      for (const auto x_dtype : {torch::kFloat, torch::kBFloat16})
        for (const int delta_kind : {0, 1, 2})  // none, float32, bf16
          for (const auto out_dtype : {torch::kBFloat16, torch::kFloat}) {
            SCOPED_TRACE(layerwise::str_cat("rows ", rows, " width ", width, " x ", x_dtype,
                                            " delta ", delta_kind, " out ", out_dtype));
            torch::manual_seed(cases++);
            const auto delta_dtype = delta_kind == 2 ? torch::kBFloat16 : torch::kFloat;
            const auto in = make_inputs(rows, width, x_dtype, delta_dtype, delta_kind > 0, device);
            const auto grad_sum = torch::randn({rows, width}, device);
            const auto grad_normed = torch::randn({rows, width}, device);

            const auto expected = composition(in, eps, out_dtype);
            const auto expected_grads = backward(in, expected, grad_sum, grad_normed);
            const auto out = lm::add_layer_norm(in.x, in.delta, in.weight, in.bias, eps, out_dtype);
            ASSERT_EQ(out.normed.scalar_type(), out_dtype);
            ASSERT_EQ(out.sum.scalar_type(), x_dtype);
            // The fused node, not ATen's ops.
            ASSERT_NE(out.normed.grad_fn()->name().find("AddLayerNorm"), std::string::npos)
                << out.normed.grad_fn()->name();
            const auto grads = backward(in, out, grad_sum, grad_normed);

            // The add is one rounding on both sides: bitwise equal.
            EXPECT_TRUE(torch::equal(out.sum, expected.sum));
            // Different float32 summation orders; a bf16 output may then round the other way.
            const double out_tol = out_dtype == torch::kBFloat16 ? 1e-2 : 1e-5;
            EXPECT_LT(relative_error(out.normed, expected.normed), out_tol);
            const double x_tol = x_dtype == torch::kBFloat16 ? 1e-2 : 1e-4;
            EXPECT_LT(relative_error(grads.x, expected_grads.x), x_tol);
            if (in.delta.defined()) {
              EXPECT_EQ(grads.delta.scalar_type(), delta_dtype);
              // A bf16 sum's gradient is bf16 in the composition: rounded before it reaches delta.
              const double d_tol =
                  delta_dtype == torch::kBFloat16 || x_dtype == torch::kBFloat16 ? 1e-2 : 1e-4;
              EXPECT_LT(relative_error(grads.delta, expected_grads.delta), d_tol);
            }
            // Sums over up to 12,800 rows in two different orders.
            EXPECT_LT(relative_error(grads.weight, expected_grads.weight), 1e-4);
            EXPECT_LT(relative_error(grads.bias, expected_grads.bias), 1e-4);
          }
    }
  }
}

// Non-contiguous inputs and gradients, a contiguous tensor at an unaligned address (scalar loads),
// a row wider than the scalar kernels (16,384: vector loads only) and a leading batch of dims.
TEST(AddLayerNormCuda, LayoutsAndWidths) {
  if (skip_cuda()) GTEST_SKIP() << "needs CUDA and the fused kernels";
  const torch::Device device(torch::kCUDA);
  torch::manual_seed(7);
  const auto opts = torch::TensorOptions().device(device);
  const auto weight = (1 + 0.3 * torch::randn({256}, opts)).requires_grad_();
  const auto bias = (0.1 * torch::randn({256}, opts)).requires_grad_();
  // (B, T, D) from a transpose, delta 4 bytes past an aligned address.
  const auto x = torch::randn({6, 256, 5}, opts).transpose(1, 2).requires_grad_();  // (6, 5, 256)
  const auto delta_storage = torch::randn({6 * 5 * 256 + 1}, opts);
  const auto delta = delta_storage.narrow(0, 1, 6 * 5 * 256).view({6, 5, 256}).requires_grad_();
  const auto grad_normed = torch::randn({6, 256, 5}, opts).transpose(1, 2);  // non-contiguous

  const auto out = lm::add_layer_norm(x, delta, weight, bias, 1e-5, torch::kBFloat16);
  ASSERT_EQ(out.normed.sizes(), x.sizes());
  const auto got = torch::autograd::grad({out.normed}, {x, delta, weight, bias},
                                         {grad_normed.to(torch::kBFloat16)});
  const auto h = x + delta;
  const auto ref = torch::layer_norm(h, {256}, weight, bias, 1e-5).to(torch::kBFloat16);
  const auto want =
      torch::autograd::grad({ref}, {x, delta, weight, bias}, {grad_normed.to(torch::kBFloat16)});
  EXPECT_LT(relative_error(out.normed, ref), 1e-2);
  for (size_t i = 0; i < 4; ++i) EXPECT_LT(relative_error(got[i], want[i]), 1e-4) << "input " << i;

  // 16,384 wide: vector loads with four vectors per thread.
  const auto wide_w = torch::ones({16384}, opts), wide_b = torch::zeros({16384}, opts);
  const auto wide = torch::randn({3, 16384}, opts);
  const auto wide_out = lm::add_layer_norm(wide, {}, wide_w, wide_b, 1e-5, torch::kFloat);
  EXPECT_LT(relative_error(wide_out.normed, torch::layer_norm(wide, {16384}, wide_w, wide_b, 1e-5)),
            1e-5);
}

TEST(AddLayerNormCuda, UnderAutocastAndDeterministic) {
  if (skip_cuda()) GTEST_SKIP() << "needs CUDA and the fused kernels";
  const torch::Device device(torch::kCUDA);
  torch::manual_seed(8);
  const auto in = make_inputs(50 * 64, 768, torch::kFloat, torch::kBFloat16, true, device);
  const auto grad_sum = torch::randn({50 * 64, 768}, device);
  const auto grad_normed = torch::randn({50 * 64, 768}, device);

  // What the block computes today under autocast: float32 stream + bf16 branch, layer_norm run in
  // float32 by autocast, then the next linear's cast to bf16.
  lm::AddNormResult expected, first;
  {
    layerwise::compat::Bf16AutocastScope autocast(true);
    const auto h = in.x + in.delta;
    const auto n = torch::layer_norm(h, {768}, in.weight, in.bias, 1e-6);
    EXPECT_EQ(n.scalar_type(), torch::kFloat);
    expected = {h, n.to(torch::kBFloat16)};
    first = lm::add_layer_norm(in.x, in.delta, in.weight, in.bias, 1e-6, torch::kBFloat16);
  }
  const auto expected_grads = backward(in, expected, grad_sum, grad_normed);
  const auto grads = backward(in, first, grad_sum, grad_normed);
  EXPECT_TRUE(torch::equal(first.sum, expected.sum));
  EXPECT_LT(relative_error(first.normed, expected.normed), 1e-2);
  EXPECT_LT(relative_error(grads.x, expected_grads.x), 1e-4);
  EXPECT_LT(relative_error(grads.delta, expected_grads.delta), 1e-2);
  EXPECT_LT(relative_error(grads.weight, expected_grads.weight), 1e-4);
  EXPECT_LT(relative_error(grads.bias, expected_grads.bias), 1e-4);

  // The same call again: bitwise the same outputs and gradients (no atomics).
  const auto second =
      lm::add_layer_norm(in.x, in.delta, in.weight, in.bias, 1e-6, torch::kBFloat16);
  const auto again = backward(in, second, grad_sum, grad_normed);
  EXPECT_TRUE(torch::equal(second.normed, first.normed));
  EXPECT_TRUE(torch::equal(again.x, grads.x));
  EXPECT_TRUE(torch::equal(again.delta, grads.delta));
  EXPECT_TRUE(torch::equal(again.weight, grads.weight));
  EXPECT_TRUE(torch::equal(again.bias, grads.bias));
}

TEST(AddLayerNormCuda, OnlyOneOutputUsedAndNoHigherOrder) {
  if (skip_cuda()) GTEST_SKIP() << "needs CUDA and the fused kernels";
  const torch::Device device(torch::kCUDA);
  torch::manual_seed(9);
  const auto in = make_inputs(10, 64, torch::kFloat, torch::kFloat, true, device);
  const auto out = lm::add_layer_norm(in.x, in.delta, in.weight, in.bias, 1e-5, torch::kFloat);
  // Only the sum reaches the loss: the add's gradient, none for weight and bias.
  const auto g = torch::randn({10, 64}, device);
  const auto grads = torch::autograd::grad({out.sum}, {in.x, in.delta}, {g});
  EXPECT_TRUE(torch::equal(grads[0], g));
  EXPECT_TRUE(torch::equal(grads[1], g));
  // create_graph through the fused node is refused, not silently wrong. The autograd engine may
  // rethrow the error from its device thread as another exception type: match the message.
  const auto out2 = lm::add_layer_norm(in.x, in.delta, in.weight, in.bias, 1e-5, torch::kFloat);
  std::string message;
  try {
    torch::autograd::grad({out2.normed.sum()}, {in.x}, {}, /*retain_graph=*/true,
                          /*create_graph=*/true);
  } catch (const std::exception& error) {
    message = error.what();
  }
  EXPECT_NE(message.find("not differentiable"), std::string::npos) << message;
}
