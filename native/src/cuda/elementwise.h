// Launch geometry shared by the element-wise ops (add_scaled, add_broadcast, bias_gelu,
// channel_affine, convert, row copies, max_pool, nchw_to_nhwc, the covariance reduction):
// grid-stride loops over int64 element counts, or over (outer, inner) pairs, so any size
// fits one launch of at most kMaxElementwiseBlocks blocks in x.
#ifndef XCIT_CUDA_ELEMENTWISE_H
#define XCIT_CUDA_ELEMENTWISE_H

#include "cuda/grid.h"

namespace xcit {

constexpr int kElementwiseThreads = 256;
// Enough blocks to fill any current GPU several times over (132 SMs x 16 blocks); more
// only adds scheduling work, since every thread strides over the remainder.
constexpr int64_t kMaxElementwiseBlocks = 4096;

// n >= 1 elements; also within limits.x (under the emulator a test may lower it).
inline dim3 elementwise_grid(int64_t n, const GridLimits& limits = grid_limits()) {
  const int64_t blocks = ceil_div(n, kElementwiseThreads);
  return launch_grid(blocks < kMaxElementwiseBlocks ? blocks : kMaxElementwiseBlocks, 1, 1, limits)
      .dims;
}

// Ops over (outer, inner) index pairs (images x elements of an image, rows x columns) take
// this 2D grid rather than dividing a flat index: a 64-bit '/' or '%' is a ~70-instruction
// routine on a GPU (fast_divmod.h), where such an op moves 4-12 bytes per element. y walks
// the outer index (outer_start/outer_stride: folded past 65535 by striding), x the inner
// one (grid_start/grid_stride); both loops grid-stride, so any size fits one launch.
inline dim3 outer_inner_grid(int64_t outer, int64_t inner, const GridLimits& limits = grid_limits()) {
  const int64_t x = ceil_div(inner, kElementwiseThreads);
  return launch_grid(x < kMaxElementwiseBlocks ? x : kMaxElementwiseBlocks, outer, 1, limits).dims;
}
__device__ __forceinline__ int64_t outer_start() { return blockIdx.y; }
__device__ __forceinline__ int64_t outer_stride() { return gridDim.y; }

// First index and stride of the calling thread in a grid-stride loop.
__device__ __forceinline__ int64_t grid_start() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

}  // namespace xcit

#endif  // XCIT_CUDA_ELEMENTWISE_H
