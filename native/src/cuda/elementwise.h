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
// this 2D launch rather than dividing a flat index: a 64-bit '/' or '%' is a ~70-instruction
// routine on a GPU (fast_divmod.h), where such an op moves 4-12 bytes per element. Threads
// are x along the inner index (grid_start/grid_stride) and y along the outer one
// (outer_start/outer_stride); a block of 256 spans min(256, inner rounded up to a warp) in x
// and the rest in y, so short rows (96 channels, a 384-wide row copy) keep every thread
// busy. Both loops grid-stride (y folds past 65535), so any size fits one launch.
struct OuterInner {
  dim3 grid, block;
};
inline OuterInner outer_inner_launch(int64_t outer, int64_t inner, const GridLimits& limits = grid_limits()) {
  const int64_t warps = ceil_div(inner, 32);
  const int bx = warps * 32 < kElementwiseThreads ? static_cast<int>(warps * 32) : kElementwiseThreads;
  const int by = kElementwiseThreads / bx;
  const int64_t x = ceil_div(inner, bx), y = ceil_div(outer, by);
  return {launch_grid(x < kMaxElementwiseBlocks ? x : kMaxElementwiseBlocks, y, 1, limits).dims, dim3(bx, by)};
}
__device__ __forceinline__ int64_t outer_start() {
  return static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
}
__device__ __forceinline__ int64_t outer_stride() {
  return static_cast<int64_t>(gridDim.y) * blockDim.y;
}

// First index and stride of the calling thread in a grid-stride loop.
__device__ __forceinline__ int64_t grid_start() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

}  // namespace xcit

#endif  // XCIT_CUDA_ELEMENTWISE_H
