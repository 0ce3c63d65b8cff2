#include "layerwise/model/fused_layer_norm.h"

#include <string>

#include "layerwise/core/error.h"

#ifdef LAYERWISE_CUDA_KERNELS
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "cuda/fused_layer_norm_kernels.h"
#endif

namespace layerwise::model {
namespace {

void check_arguments(const torch::Tensor& x, const torch::Tensor& delta,
                     const torch::Tensor& weight, const torch::Tensor& bias,
                     c10::ScalarType out_dtype) {
  LW_CHECK(x.defined() && x.dim() >= 1, "add_layer_norm: x must be a tensor (..., D)");
  LW_CHECK(c10::isFloatingType(x.scalar_type()), "add_layer_norm: x must be floating, got ",
           x.scalar_type());
  LW_CHECK(c10::isFloatingType(out_dtype), "add_layer_norm: out_dtype must be floating, got ",
           out_dtype);
  const int64_t width = x.size(-1);
  if (delta.defined()) {
    LW_CHECK(delta.sizes() == x.sizes(), "add_layer_norm: delta has shape ", delta.sizes(),
             ", x has ", x.sizes(), "; they must match");
    LW_CHECK(c10::isFloatingType(delta.scalar_type()),
             "add_layer_norm: delta must be floating, got ", delta.scalar_type());
  }
  for (const auto& [name, t] :
       {std::pair<const char*, const torch::Tensor&>{"weight", weight}, {"bias", bias}}) {
    LW_CHECK(!t.defined() || (t.dim() == 1 && t.size(0) == width), "add_layer_norm: ", name,
             " must have shape (", width, ") to match x's last dimension, got ",
             t.defined() ? t.sizes() : c10::IntArrayRef{});
  }
}

// The unfused ops, as the block wrote them before: add, LayerNorm in float32 (float64 stays
// float64), cast. On float32 inputs with out_dtype float32 every step but the add and layer_norm
// is a no-op, so results and gradients are bitwise those of `norm(x + delta)`.
AddNormResult add_layer_norm_aten(const torch::Tensor& x, const torch::Tensor& delta,
                                  const torch::Tensor& weight, const torch::Tensor& bias,
                                  double eps, c10::ScalarType out_dtype) {
  auto sum = x;
  if (delta.defined()) {
    sum = x + delta;  // (..., D), promoted: float32 + bf16 adds in float32
    if (sum.scalar_type() != x.scalar_type()) sum = sum.to(x.scalar_type());
  }
  const auto compute_dtype = c10::promoteTypes(sum.scalar_type(), torch::kFloat);
  const auto normed = torch::layer_norm(sum.to(compute_dtype), {x.size(-1)}, weight, bias, eps);
  return {sum, normed.to(out_dtype)};  // (..., D) each
}

#ifdef LAYERWISE_CUDA_KERNELS

namespace kernels = layerwise::model::cuda;

bool kernel_dtype(c10::ScalarType t) {
  return t == torch::kFloat || t == torch::kBFloat16;
}

kernels::DType to_kernel_dtype(c10::ScalarType t) {
  return t == torch::kBFloat16 ? kernels::DType::bfloat16 : kernels::DType::float32;
}

// Contiguous, and 16-byte aligned where the row is too wide for the scalar kernels (a contiguous
// view at an odd storage offset is not).
torch::Tensor kernel_layout(const torch::Tensor& t) {
  if (!t.defined()) return t;
  auto c = t.contiguous();
  if (c.size(-1) > kernels::fused_layer_norm_max_width(false) &&
      reinterpret_cast<uintptr_t>(c.data_ptr()) % 16 != 0)
    c = c.clone();
  return c;
}

bool fused_path(const torch::Tensor& x, const torch::Tensor& delta, const torch::Tensor& weight,
                const torch::Tensor& bias, c10::ScalarType out_dtype) {
  if (!x.is_cuda() || x.numel() == 0 || !kernel_dtype(x.scalar_type()) || !kernel_dtype(out_dtype))
    return false;
  if (delta.defined() && (delta.device() != x.device() || !kernel_dtype(delta.scalar_type())))
    return false;
  for (const auto* t : {&weight, &bias})
    if (!t->defined() || t->device() != x.device() || t->scalar_type() != torch::kFloat)
      return false;
  const int64_t width = x.size(-1);
  return width <= kernels::fused_layer_norm_max_width(false) ||
         (width % 8 == 0 && width <= kernels::fused_layer_norm_max_width(true));
}

// Outputs (sum, normed) with delta, (normed) without: sum is then x itself, outside this node.
class AddLayerNormFunction : public torch::autograd::Function<AddLayerNormFunction> {
 public:
  // Autograd records every tensor input's device, so an absent delta travels as x with
  // has_delta false (the no-delta form) rather than as an undefined tensor.
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const torch::Tensor& x,
                                                const torch::Tensor& delta_or_x,
                                                const torch::Tensor& weight,
                                                const torch::Tensor& bias, double eps,
                                                c10::ScalarType out_dtype, bool has_delta) {
    const torch::Tensor delta = has_delta ? delta_or_x : torch::Tensor();
    // No autocast guard needed: nothing below is an autocast-listed op (contiguous, empty, the
    // kernels), and the kernels choose their own precision.
    const c10::cuda::CUDAGuard device_guard(x.device());
    const int64_t width = x.size(-1), rows = x.numel() / width;
    const auto x_c = kernel_layout(x), delta_c = kernel_layout(delta);  // (..., D)
    const auto w_c = kernel_layout(weight), b_c = kernel_layout(bias);  // (D)
    const auto stats_options = x.options().dtype(torch::kFloat);
    torch::Tensor sum = delta.defined() ? torch::empty_like(x_c) : torch::Tensor();  // (..., D)
    auto normed = torch::empty(x.sizes(), x.options().dtype(out_dtype));             // (..., D)
    auto mean = torch::empty({rows}, stats_options), rstd = torch::empty({rows}, stats_options);

    kernels::AddLayerNormForwardArgs args;
    args.rows = rows;
    args.width = width;
    args.x = x_c.data_ptr();
    args.x_dtype = to_kernel_dtype(x.scalar_type());
    args.delta = delta.defined() ? delta_c.data_ptr() : nullptr;
    args.delta_dtype = delta.defined() ? to_kernel_dtype(delta.scalar_type()) : args.x_dtype;
    args.weight = w_c.data_ptr<float>();
    args.bias = b_c.data_ptr<float>();
    args.eps = static_cast<float>(eps);
    args.sum = delta.defined() ? sum.data_ptr() : nullptr;
    args.normed = normed.data_ptr();
    args.out_dtype = to_kernel_dtype(out_dtype);
    args.mean = mean.data_ptr<float>();
    args.rstd = rstd.data_ptr<float>();
    const std::string error =
        kernels::add_layer_norm_forward(args, c10::cuda::getCurrentCUDAStream().stream());
    LW_CHECK(error.empty(), error);

    ctx->save_for_backward({delta.defined() ? sum : x_c, w_c, mean, rstd});
    ctx->saved_data["has_delta"] = delta.defined();
    ctx->saved_data["x_dtype"] = static_cast<int64_t>(x.scalar_type());
    ctx->saved_data["delta_dtype"] =
        static_cast<int64_t>(delta.defined() ? delta.scalar_type() : x.scalar_type());
    ctx->set_materialize_grads(false);  // an unused output's gradient stays undefined, not zeros
    if (delta.defined()) return {sum, normed};
    return {normed};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    // Grad mode is on in backward exactly when the caller asked for create_graph.
    LW_CHECK(!torch::GradMode::is_enabled(),
             "add_layer_norm: the fused CUDA backward is not differentiable (create_graph=true); "
             "use the ATen path for higher-order gradients");
    const auto saved = ctx->get_saved_variables();
    const auto& sum = saved[0];  // (..., D): the forward's sum, or x without delta
    const auto& weight = saved[1];
    const auto &mean = saved[2], &rstd = saved[3];  // (rows)
    const bool has_delta = ctx->saved_data["has_delta"].toBool();
    const auto x_dtype = static_cast<c10::ScalarType>(ctx->saved_data["x_dtype"].toInt());
    const auto delta_dtype = static_cast<c10::ScalarType>(ctx->saved_data["delta_dtype"].toInt());
    const torch::Tensor grad_sum = has_delta ? grads[0] : torch::Tensor();
    const torch::Tensor& grad_normed = grads[has_delta ? 1 : 0];
    const bool need_x = ctx->needs_input_grad(0),
               need_delta = has_delta && ctx->needs_input_grad(1);
    const bool need_weight = ctx->needs_input_grad(2), need_bias = ctx->needs_input_grad(3);
    torch::autograd::variable_list result(7);  // x, delta, weight, bias, eps, out_dtype, has_delta

    if (!grad_normed.defined()) {  // only the sum was used: the add's gradient alone
      if (grad_sum.defined()) {
        if (need_x) result[0] = grad_sum.to(x_dtype);
        if (need_delta) result[1] = grad_sum.to(delta_dtype);
      }
      return result;
    }

    const c10::cuda::CUDAGuard device_guard(sum.device());
    const int64_t width = sum.size(-1), rows = sum.numel() / width;
    // Autograd hands each output's gradient in that output's dtype; guard anyway.
    auto g = kernel_layout(grad_normed);  // (..., D)
    if (!kernel_dtype(g.scalar_type())) g = g.to(torch::kFloat);
    auto gs = kernel_layout(grad_sum);  // (..., D) or undefined
    if (gs.defined() && !kernel_dtype(gs.scalar_type())) gs = gs.to(x_dtype);
    const auto f32 = sum.options().dtype(torch::kFloat);
    auto grad_x = torch::empty(sum.sizes(), sum.options().dtype(x_dtype));  // (..., D)
    // The residual's two inputs get the same gradient: one tensor when their dtypes agree.
    torch::Tensor grad_delta;
    if (need_delta)
      grad_delta = delta_dtype == x_dtype
                       ? grad_x
                       : torch::empty(sum.sizes(), sum.options().dtype(delta_dtype));
    auto grad_weight = need_weight ? torch::empty({width}, f32) : torch::Tensor();  // (D)
    auto grad_bias = need_bias ? torch::empty({width}, f32) : torch::Tensor();      // (D)
    auto workspace = torch::empty({kernels::add_layer_norm_backward_workspace(rows, width)}, f32);

    kernels::AddLayerNormBackwardArgs args;
    args.rows = rows;
    args.width = width;
    args.grad_normed = g.data_ptr();
    args.grad_normed_dtype = to_kernel_dtype(g.scalar_type());
    args.grad_sum = gs.defined() ? gs.data_ptr() : nullptr;
    args.grad_sum_dtype = gs.defined() ? to_kernel_dtype(gs.scalar_type()) : args.grad_normed_dtype;
    args.sum = sum.data_ptr();
    args.sum_dtype = to_kernel_dtype(sum.scalar_type());
    args.mean = mean.data_ptr<float>();
    args.rstd = rstd.data_ptr<float>();
    args.weight = weight.data_ptr<float>();
    args.grad_x = grad_x.data_ptr();
    args.grad_x_dtype = to_kernel_dtype(x_dtype);
    args.grad_delta =
        grad_delta.defined() && delta_dtype != x_dtype ? grad_delta.data_ptr() : nullptr;
    args.grad_delta_dtype = to_kernel_dtype(delta_dtype);
    args.grad_weight = need_weight ? grad_weight.data_ptr<float>() : nullptr;
    args.grad_bias = need_bias ? grad_bias.data_ptr<float>() : nullptr;
    args.workspace = workspace.data_ptr<float>();
    const std::string error =
        kernels::add_layer_norm_backward(args, c10::cuda::getCurrentCUDAStream().stream());
    LW_CHECK(error.empty(), error);

    if (need_x) result[0] = grad_x;
    result[1] = grad_delta;
    result[2] = grad_weight;
    result[3] = grad_bias;
    return result;
  }
};

#endif  // LAYERWISE_CUDA_KERNELS

}  // namespace

AddNormResult add_layer_norm(const torch::Tensor& x, const torch::Tensor& delta,
                             const torch::Tensor& weight, const torch::Tensor& bias, double eps,
                             c10::ScalarType out_dtype) {
  check_arguments(x, delta, weight, bias, out_dtype);
#ifdef LAYERWISE_CUDA_KERNELS
  if (fused_path(x, delta, weight, bias, out_dtype)) {
    const auto outputs = AddLayerNormFunction::apply(x, delta.defined() ? delta : x, weight, bias,
                                                     eps, out_dtype, delta.defined());
    if (delta.defined()) return {outputs[0], outputs[1]};
    return {x, outputs[0]};
  }
#endif
  return add_layer_norm_aten(x, delta, weight, bias, eps, out_dtype);
}

bool fused_layer_norm_available() {
#ifdef LAYERWISE_CUDA_KERNELS
  return true;
#else
  return false;
#endif
}

}  // namespace layerwise::model
