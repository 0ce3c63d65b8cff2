// Fused residual add + LayerNorm, forward and backward, for rows of width D
// (fused_layer_norm_kernels.h).
//
// Layout: a block of (threads_per_row, rows_per_block) threads; each row belongs to one
// threads_per_row group (one warp or several) and stays in registers between the passes, so x and
// delta are read once and sum, normed written once. Thread tx of a group owns the vectors
// j * threads_per_row + tx, j < VPT, of VEC consecutive elements (VEC = 8: two float4 or one
// 16-byte bf16 load; VEC = 1: scalar loads for unaligned tensors or D % 8 != 0). Element types are
// runtime flags, uniform over the grid: one instantiation per (VEC, VPT) instead of one per dtype
// mix.
//
// Backward: the same mapping; a thread's columns are the same for every row it visits, so it keeps
// its share of grad_weight / grad_bias in registers across a grid-stride loop over rows, the block
// sums its rows_per_block groups through shared memory and writes one partial row per block; a
// second kernel sums the partial rows in a fixed order (deterministic, no atomics).
#include "fused_layer_norm_kernels.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <tuple>

namespace layerwise::model::cuda {
namespace {

constexpr int kMaxThreadsPerRow = 512;
constexpr int kMaxThreadsPerBlock = 512;
constexpr int kTargetThreadsPerBlock = 256;
constexpr unsigned kFullMask = 0xffffffffu;

// ---- element access: VEC consecutive elements of a float32 or bf16 array, as float32 ----------

template <int VEC>
__device__ __forceinline__ void load_vec(const void* base, bool bf16, int64_t i, float (&v)[VEC]) {
  if constexpr (VEC == 8) {
    if (bf16) {
      // 16-byte aligned: the host checked the pointer and i is a multiple of 8.
      const uint4 raw =
          *reinterpret_cast<const uint4*>(static_cast<const __nv_bfloat16*>(base) + i);
      const auto* pairs = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const float2 f = __bfloat1622float2(pairs[k]);
        v[2 * k] = f.x;
        v[2 * k + 1] = f.y;
      }
    } else {
      const auto* q = reinterpret_cast<const float4*>(static_cast<const float*>(base) + i);
      const float4 a = q[0], b = q[1];
      v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
      v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
    }
  } else {
    static_assert(VEC == 1, "VEC is 8 or 1");
    v[0] = bf16 ? __bfloat162float(static_cast<const __nv_bfloat16*>(base)[i])
                : static_cast<const float*>(base)[i];
  }
}

template <int VEC>
__device__ __forceinline__ void store_vec(void* base, bool bf16, int64_t i, const float (&v)[VEC]) {
  if constexpr (VEC == 8) {
    if (bf16) {
      alignas(16) __nv_bfloat162 pairs[4];
#pragma unroll
      for (int k = 0; k < 4; ++k) pairs[k] = __floats2bfloat162_rn(v[2 * k], v[2 * k + 1]);
      *reinterpret_cast<uint4*>(static_cast<__nv_bfloat16*>(base) + i) =
          *reinterpret_cast<const uint4*>(pairs);
    } else {
      auto* q = reinterpret_cast<float4*>(static_cast<float*>(base) + i);
      q[0] = make_float4(v[0], v[1], v[2], v[3]);
      q[1] = make_float4(v[4], v[5], v[6], v[7]);
    }
  } else {
    if (bf16)
      static_cast<__nv_bfloat16*>(base)[i] = __float2bfloat16_rn(v[0]);
    else
      static_cast<float*>(base)[i] = v[0];
  }
}

// The value a float becomes when stored in the given type (round to nearest even for bf16, as
// ATen's conversion).
__device__ __forceinline__ float round_to(float v, bool bf16) {
  return bf16 ? __bfloat162float(__float2bfloat16_rn(v)) : v;
}

// ---- reductions over one row's threads_per_row group ----------------------------------------

// Sums each of v[0..N) over the group of threadIdx.y (blockDim.x threads, a multiple of 32); every
// thread of the block must call it (uniform control flow: it may __syncthreads). `scratch` holds
// blockDim.x * blockDim.y / 32 * N floats. The cross-warp sum runs in the same order in every
// thread, so all threads of a row get bitwise the same result.
template <int N>
__device__ __forceinline__ void row_allreduce(float (&v)[N], float* scratch) {
#pragma unroll
  for (int i = 0; i < N; ++i)
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) v[i] += __shfl_xor_sync(kFullMask, v[i], offset);
  const int warps = blockDim.x / 32;
  if (warps == 1) return;  // uniform over the block
  float* mine = scratch + threadIdx.y * warps * N;
  __syncthreads();  // the previous call's readers are done with scratch
  if (threadIdx.x % 32 == 0)
#pragma unroll
    for (int i = 0; i < N; ++i) mine[(threadIdx.x / 32) * N + i] = v[i];
  __syncthreads();
#pragma unroll
  for (int i = 0; i < N; ++i) {
    float total = 0.f;
    for (int w = 0; w < warps; ++w) total += mine[w * N + i];
    v[i] = total;
  }
}

// ---- forward -----------------------------------------------------------------------------------

struct ForwardParams {
  int64_t rows;
  int width;
  const void* x;
  const void* delta;
  const float* weight;
  const float* bias;
  float eps;
  void* sum;
  void* normed;
  float* mean;
  float* rstd;
  bool x_bf16, delta_bf16, out_bf16;
};

template <int VEC, int VPT>
__global__ void __launch_bounds__(kMaxThreadsPerBlock)
    add_layer_norm_forward_kernel(ForwardParams p) {
  __shared__ float scratch[kMaxThreadsPerBlock / 32];
  const int tx = threadIdx.x, tpr = blockDim.x, rpb = blockDim.y, width = p.width;
  const float inv_width = 1.f / static_cast<float>(width);
  for (int64_t first = int64_t(blockIdx.x) * rpb; first < p.rows;
       first += int64_t(gridDim.x) * rpb) {
    const int64_t row = first + threadIdx.y;
    const bool row_ok = row < p.rows;  // threads of a missing row still join the reductions
    const int64_t offset = row * width;
    float v[VPT][VEC];  // the row's sum, in registers until normed is written
    float total = 0.f;
#pragma unroll
    for (int j = 0; j < VPT; ++j) {
      const int col = (j * tpr + tx) * VEC;
      if (row_ok && col < width) {
        load_vec<VEC>(p.x, p.x_bf16, offset + col, v[j]);
        if (p.delta != nullptr) {
          float d[VEC];
          load_vec<VEC>(p.delta, p.delta_bf16, offset + col, d);
          // Normalize the sum as stored, as LayerNorm of the returned sum would.
#pragma unroll
          for (int k = 0; k < VEC; ++k) v[j][k] = round_to(v[j][k] + d[k], p.x_bf16);
          store_vec<VEC>(p.sum, p.x_bf16, offset + col, v[j]);
        }
#pragma unroll
        for (int k = 0; k < VEC; ++k) total += v[j][k];
      } else {
#pragma unroll
        for (int k = 0; k < VEC; ++k) v[j][k] = 0.f;
      }
    }
    float reduced[1] = {total};
    row_allreduce<1>(reduced, scratch);
    const float mean = reduced[0] * inv_width;
    // Two passes over registers: the variance of the centred values, no E[x^2] - E[x]^2
    // cancellation.
    float squares = 0.f;
#pragma unroll
    for (int j = 0; j < VPT; ++j) {
      const int col = (j * tpr + tx) * VEC;
      if (row_ok && col < width)
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          const float centred = v[j][k] - mean;
          squares += centred * centred;
        }
    }
    reduced[0] = squares;
    row_allreduce<1>(reduced, scratch);
    const float rstd = rsqrtf(reduced[0] * inv_width + p.eps);  // biased variance, as LayerNorm
#pragma unroll
    for (int j = 0; j < VPT; ++j) {
      const int col = (j * tpr + tx) * VEC;
      if (row_ok && col < width) {
        float w[VEC], b[VEC], out[VEC];
        load_vec<VEC>(p.weight, false, col, w);
        load_vec<VEC>(p.bias, false, col, b);
#pragma unroll
        for (int k = 0; k < VEC; ++k) out[k] = (v[j][k] - mean) * rstd * w[k] + b[k];
        store_vec<VEC>(p.normed, p.out_bf16, offset + col, out);
      }
    }
    if (row_ok && tx == 0) {
      p.mean[row] = mean;
      p.rstd[row] = rstd;
    }
  }
}

// ---- backward ----------------------------------------------------------------------------------

struct BackwardParams {
  int64_t rows;
  int width;
  const void* grad_normed;
  const void* grad_sum;
  const void* sum;
  const float* mean;
  const float* rstd;
  const float* weight;
  void* grad_x;
  void* grad_delta;
  float* partial;  // (2, gridDim.x, width): grad_weight rows, then grad_bias rows
  bool grad_normed_bf16, grad_sum_bf16, sum_bf16, grad_x_bf16, grad_delta_bf16;
};

template <int VEC, int VPT>
__global__ void __launch_bounds__(kMaxThreadsPerBlock)
    add_layer_norm_backward_kernel(BackwardParams p) {
  __shared__ float scratch[kMaxThreadsPerBlock / 32 * 2];
  extern __shared__ float block_partial[];  // (2, VPT * VEC, blockDim.x) when blockDim.y > 1
  const int tx = threadIdx.x, tpr = blockDim.x, rpb = blockDim.y, width = p.width;
  const float inv_width = 1.f / static_cast<float>(width);
  float grad_w[VPT][VEC], grad_b[VPT][VEC];  // this thread's columns, summed over its rows
#pragma unroll
  for (int j = 0; j < VPT; ++j)
#pragma unroll
    for (int k = 0; k < VEC; ++k) grad_w[j][k] = grad_b[j][k] = 0.f;

  for (int64_t first = int64_t(blockIdx.x) * rpb; first < p.rows;
       first += int64_t(gridDim.x) * rpb) {
    const int64_t row = first + threadIdx.y;
    const bool row_ok = row < p.rows;
    const int64_t offset = row * width;
    const float mean = row_ok ? p.mean[row] : 0.f, rstd = row_ok ? p.rstd[row] : 0.f;
    float xhat[VPT][VEC], gw[VPT][VEC];  // normalized sum; grad_normed * weight
    float dots[2] = {0.f, 0.f};          // sum of gw, sum of gw * xhat
#pragma unroll
    for (int j = 0; j < VPT; ++j) {
      const int col = (j * tpr + tx) * VEC;
      if (row_ok && col < width) {
        float g[VEC], s[VEC], w[VEC];
        load_vec<VEC>(p.grad_normed, p.grad_normed_bf16, offset + col, g);
        load_vec<VEC>(p.sum, p.sum_bf16, offset + col, s);
        load_vec<VEC>(p.weight, false, col, w);
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          xhat[j][k] = (s[k] - mean) * rstd;
          gw[j][k] = g[k] * w[k];
          dots[0] += gw[j][k];
          dots[1] += gw[j][k] * xhat[j][k];
          grad_w[j][k] += g[k] * xhat[j][k];
          grad_b[j][k] += g[k];
        }
      } else {
#pragma unroll
        for (int k = 0; k < VEC; ++k) xhat[j][k] = gw[j][k] = 0.f;
      }
    }
    row_allreduce<2>(dots, scratch);
    const float mean_gw = dots[0] * inv_width, mean_gw_xhat = dots[1] * inv_width;
#pragma unroll
    for (int j = 0; j < VPT; ++j) {
      const int col = (j * tpr + tx) * VEC;
      if (row_ok && col < width) {
        float dx[VEC];
#pragma unroll
        for (int k = 0; k < VEC; ++k)
          dx[k] = rstd * (gw[j][k] - mean_gw - xhat[j][k] * mean_gw_xhat);
        if (p.grad_sum != nullptr) {
          float gs[VEC];
          load_vec<VEC>(p.grad_sum, p.grad_sum_bf16, offset + col, gs);
#pragma unroll
          for (int k = 0; k < VEC; ++k) dx[k] += gs[k];
        }
        store_vec<VEC>(p.grad_x, p.grad_x_bf16, offset + col, dx);
        if (p.grad_delta != nullptr)
          store_vec<VEC>(p.grad_delta, p.grad_delta_bf16, offset + col, dx);
      }
    }
  }

  // The block's row groups into group 0, one group at a time, in a fixed order.
  constexpr int kPerThread = VPT * VEC;
  for (int y = 1; y < rpb; ++y) {
    __syncthreads();
    if (threadIdx.y == y)
#pragma unroll
      for (int j = 0; j < VPT; ++j)
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          block_partial[(j * VEC + k) * tpr + tx] = grad_w[j][k];
          block_partial[(kPerThread + j * VEC + k) * tpr + tx] = grad_b[j][k];
        }
    __syncthreads();
    if (threadIdx.y == 0)
#pragma unroll
      for (int j = 0; j < VPT; ++j)
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          grad_w[j][k] += block_partial[(j * VEC + k) * tpr + tx];
          grad_b[j][k] += block_partial[(kPerThread + j * VEC + k) * tpr + tx];
        }
  }
  if (threadIdx.y != 0) return;
  float* partial_w = p.partial + int64_t(blockIdx.x) * width;
  float* partial_b = p.partial + (int64_t(gridDim.x) + blockIdx.x) * width;
#pragma unroll
  for (int j = 0; j < VPT; ++j) {
    const int col = (j * tpr + tx) * VEC;
    if (col < width) {
      store_vec<VEC>(partial_w, false, col, grad_w[j]);
      store_vec<VEC>(partial_b, false, col, grad_b[j]);
    }
  }
}

// Sums the (2, blocks, width) partial rows over blocks: 32 columns x 16 row slices per block.
constexpr int kFinishColumns = 32, kFinishSlices = 16;

__global__ void __launch_bounds__(kFinishColumns* kFinishSlices)
    sum_partials_kernel(const float* partial, int blocks, int width, float* grad_weight,
                        float* grad_bias) {
  __shared__ float slice_w[kFinishSlices][kFinishColumns + 1],
      slice_b[kFinishSlices][kFinishColumns + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int col = blockIdx.x * kFinishColumns + tx;
  float sum_w = 0.f, sum_b = 0.f;
  if (col < width)
    for (int r = ty; r < blocks; r += kFinishSlices) {
      sum_w += partial[int64_t(r) * width + col];
      sum_b += partial[(int64_t(blocks) + r) * width + col];
    }
  slice_w[ty][tx] = sum_w;
  slice_b[ty][tx] = sum_b;
  __syncthreads();
  if (ty != 0 || col >= width) return;
  for (int s = 1; s < kFinishSlices; ++s) {
    sum_w += slice_w[s][tx];
    sum_b += slice_b[s][tx];
  }
  if (grad_weight != nullptr) grad_weight[col] = sum_w;
  if (grad_bias != nullptr) grad_bias[col] = sum_b;
}

// ---- host side ---------------------------------------------------------------------------------

// How a row of `width` is spread over threads: see the file comment.
struct Plan {
  int vec = 1, vpt = 1, threads_per_row = 32, rows_per_block = 1;
  int threads() const { return threads_per_row * rows_per_block; }
};

bool make_plan(int64_t width, bool vectorized, Plan* plan) {
  if (width <= 0) return false;
  plan->vec = vectorized ? 8 : 1;
  const int64_t vectors = (width + plan->vec - 1) / plan->vec;
  // 4 x 8 elements per thread: more would spill the backward's four register arrays.
  const int max_vpt = vectorized ? 4 : 16;
  for (int vpt = 1; vpt <= max_vpt; vpt *= 2) {
    const int64_t threads = (vectors + vpt - 1) / vpt;
    if (threads > kMaxThreadsPerRow) continue;
    plan->vpt = vpt;
    plan->threads_per_row = int((threads + 31) / 32 * 32);
    plan->rows_per_block = std::max(1, kTargetThreadsPerBlock / plan->threads_per_row);
    return true;
  }
  return false;
}

int sm_count() {
  static std::atomic<int> counts[64];  // by device; 0: not asked yet
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return 1;
  if (device < 0 || device >= 64) device = 0;
  int count = counts[device].load(std::memory_order_relaxed);
  if (count == 0) {
    if (cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
        count <= 0)
      count = 1;
    counts[device].store(count, std::memory_order_relaxed);
  }
  return count;
}

using ForwardKernel = void (*)(ForwardParams);
using BackwardKernel = void (*)(BackwardParams);

template <int VEC>
ForwardKernel forward_kernel(int vpt) {
  switch (vpt) {
    case 1:
      return add_layer_norm_forward_kernel<VEC, 1>;
    case 2:
      return add_layer_norm_forward_kernel<VEC, 2>;
    case 4:
      return add_layer_norm_forward_kernel<VEC, 4>;
    default:
      break;
  }
  if constexpr (VEC == 1) {
    if (vpt == 8) return add_layer_norm_forward_kernel<1, 8>;
    if (vpt == 16) return add_layer_norm_forward_kernel<1, 16>;
  }
  return nullptr;
}

template <int VEC>
BackwardKernel backward_kernel(int vpt) {
  switch (vpt) {
    case 1:
      return add_layer_norm_backward_kernel<VEC, 1>;
    case 2:
      return add_layer_norm_backward_kernel<VEC, 2>;
    case 4:
      return add_layer_norm_backward_kernel<VEC, 4>;
    default:
      break;
  }
  if constexpr (VEC == 1) {
    if (vpt == 8) return add_layer_norm_backward_kernel<1, 8>;
    if (vpt == 16) return add_layer_norm_backward_kernel<1, 16>;
  }
  return nullptr;
}

bool aligned16(const void* p) {
  return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// Shared memory of the backward kernel's cross-group sum of partials.
size_t backward_shared_bytes(const Plan& plan) {
  return plan.rows_per_block > 1
             ? size_t(2) * plan.vpt * plan.vec * plan.threads_per_row * sizeof(float)
             : 0;
}

// Resident blocks per SM of a backward configuration, asked once per (device, kernel, block size):
// later calls (a CUDA graph capture among them) make no CUDA API call here. 0 on a CUDA error.
int backward_blocks_per_sm(BackwardKernel kernel, const Plan& plan) {
  static std::mutex mutex;
  static std::map<std::tuple<int, const void*, int>, int> cache;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return 0;
  const auto key = std::make_tuple(device, reinterpret_cast<const void*>(kernel), plan.threads());
  const std::lock_guard<std::mutex> lock(mutex);
  const auto found = cache.find(key);
  if (found != cache.end()) return found->second;
  int per_sm = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, plan.threads(),
                                                    backward_shared_bytes(plan)) != cudaSuccess)
    return 0;
  cache.emplace(key, per_sm);
  return per_sm;
}

// Blocks of the backward grid: enough to fill every SM once, as few as possible since each writes
// a partial row. Returns 0 on a CUDA error.
int64_t backward_blocks(const Plan& plan, int64_t rows, BackwardKernel kernel) {
  const int per_sm = backward_blocks_per_sm(kernel, plan);
  if (per_sm == 0) return 0;
  const int64_t needed = (rows + plan.rows_per_block - 1) / plan.rows_per_block;
  return std::max<int64_t>(1, std::min<int64_t>(needed, int64_t(sm_count()) * per_sm));
}

BackwardKernel backward_kernel_for(const Plan& plan) {
  return plan.vec == 8 ? backward_kernel<8>(plan.vpt) : backward_kernel<1>(plan.vpt);
}

std::string launch_error(const char* what) {
  const cudaError_t error = cudaGetLastError();
  if (error == cudaSuccess) return {};
  return std::string(what) + ": CUDA error " + cudaGetErrorName(error) + " (" +
         cudaGetErrorString(error) + ")";
}

}  // namespace

int64_t fused_layer_norm_max_width(bool vectorized) {
  return vectorized ? int64_t(kMaxThreadsPerRow) * 4 * 8 : int64_t(kMaxThreadsPerRow) * 16;
}

std::string add_layer_norm_forward(const AddLayerNormForwardArgs& a, cudaStream_t stream) {
  if (a.rows == 0) return {};
  const bool vectorized = a.width % 8 == 0 && aligned16(a.x) && aligned16(a.delta) &&
                          aligned16(a.weight) && aligned16(a.bias) && aligned16(a.sum) &&
                          aligned16(a.normed);
  Plan plan;
  if (!make_plan(a.width, vectorized, &plan))
    return "add_layer_norm_forward: width " + std::to_string(a.width) + " is beyond the kernels" +
           (vectorized ? "" : " (unaligned or width % 8 != 0: scalar loads)");
  const ForwardKernel kernel =
      plan.vec == 8 ? forward_kernel<8>(plan.vpt) : forward_kernel<1>(plan.vpt);
  if (kernel == nullptr) return "add_layer_norm_forward: no kernel for this width";
  ForwardParams p{a.rows,
                  int(a.width),
                  a.x,
                  a.delta,
                  a.weight,
                  a.bias,
                  a.eps,
                  a.delta != nullptr ? a.sum : nullptr,
                  a.normed,
                  a.mean,
                  a.rstd,
                  a.x_dtype == DType::bfloat16,
                  a.delta_dtype == DType::bfloat16,
                  a.out_dtype == DType::bfloat16};
  if (p.delta != nullptr && p.sum == nullptr)
    return "add_layer_norm_forward: delta given without an output for the sum";
  const int64_t blocks = std::min<int64_t>((a.rows + plan.rows_per_block - 1) / plan.rows_per_block,
                                           0x7fffffff);  // the grid-stride loop covers the rest
  kernel<<<unsigned(blocks), dim3(plan.threads_per_row, plan.rows_per_block), 0, stream>>>(p);
  return launch_error("add_layer_norm_forward");
}

int64_t add_layer_norm_backward_workspace(int64_t rows, int64_t width) {
  int64_t floats = 0;
  for (const bool vectorized : {true, false}) {
    Plan plan;
    if ((vectorized && width % 8 != 0) || !make_plan(width, vectorized, &plan)) continue;
    const int64_t blocks =
        backward_blocks(plan, std::max<int64_t>(rows, 1), backward_kernel_for(plan));
    // A failed occupancy query: room for the most blocks the launch could choose.
    const int64_t most = blocks > 0 ? blocks : std::max<int64_t>(1, rows);
    floats = std::max(floats, 2 * most * width);
  }
  return floats;
}

std::string add_layer_norm_backward(const AddLayerNormBackwardArgs& a, cudaStream_t stream) {
  if (a.grad_normed == nullptr || a.sum == nullptr || a.grad_x == nullptr || a.workspace == nullptr)
    return "add_layer_norm_backward: grad_normed, sum, grad_x and workspace are required";
  if (a.rows == 0) return "add_layer_norm_backward: no rows (the caller fills zeros)";
  const bool vectorized = a.width % 8 == 0 && aligned16(a.grad_normed) && aligned16(a.grad_sum) &&
                          aligned16(a.sum) && aligned16(a.weight) && aligned16(a.grad_x) &&
                          aligned16(a.grad_delta) && aligned16(a.workspace);
  Plan plan;
  if (!make_plan(a.width, vectorized, &plan))
    return "add_layer_norm_backward: width " + std::to_string(a.width) + " is beyond the kernels";
  const BackwardKernel kernel = backward_kernel_for(plan);
  if (kernel == nullptr) return "add_layer_norm_backward: no kernel for this width";
  const int64_t blocks = backward_blocks(plan, a.rows, kernel);
  if (blocks == 0) {
    const std::string error = launch_error("add_layer_norm_backward: occupancy query");
    return error.empty() ? "add_layer_norm_backward: no block of " +
                               std::to_string(plan.threads()) + " threads fits on an SM"
                         : error;
  }
  if (2 * blocks * a.width > add_layer_norm_backward_workspace(a.rows, a.width))
    return "add_layer_norm_backward: workspace too small";  // cannot happen: same computation
  BackwardParams p{a.rows,
                   int(a.width),
                   a.grad_normed,
                   a.grad_sum,
                   a.sum,
                   a.mean,
                   a.rstd,
                   a.weight,
                   a.grad_x,
                   a.grad_delta,
                   a.workspace,
                   a.grad_normed_dtype == DType::bfloat16,
                   a.grad_sum_dtype == DType::bfloat16,
                   a.sum_dtype == DType::bfloat16,
                   a.grad_x_dtype == DType::bfloat16,
                   a.grad_delta_dtype == DType::bfloat16};
  kernel<<<unsigned(blocks), dim3(plan.threads_per_row, plan.rows_per_block),
           backward_shared_bytes(plan), stream>>>(p);
  std::string error = launch_error("add_layer_norm_backward");
  if (!error.empty()) return error;
  if (a.grad_weight == nullptr && a.grad_bias == nullptr) return {};
  const unsigned finish_blocks = unsigned((a.width + kFinishColumns - 1) / kFinishColumns);
  sum_partials_kernel<<<finish_blocks, dim3(kFinishColumns, kFinishSlices), 0, stream>>>(
      a.workspace, int(blocks), int(a.width), a.grad_weight, a.grad_bias);
  return launch_error("add_layer_norm_backward: sum of partials");
}

}  // namespace layerwise::model::cuda
