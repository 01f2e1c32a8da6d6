// Warp and block reductions shared by the kernels (fp32; fixed shuffle and tree order,
// so a result never depends on scheduling). Every function here must be called by every
// thread of the warp or block: they contain shuffles and barriers.
#ifndef XCIT_CUDA_REDUCE_H
#define XCIT_CUDA_REDUCE_H

#include "cuda/compat.h"

namespace xcit {

constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;

// Sum / max of v over the 32 lanes of a warp; every lane receives the result.
__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = kWarp / 2; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int offset = kWarp / 2; offset > 0; offset >>= 1) {
    v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  }
  return v;
}

// Sum of v over the block; every thread receives the total. blockDim.x is a multiple of
// 32 (<= 1024), blockDim.y = blockDim.z = 1. scratch: 33 floats of shared memory, 32
// per-warp partials plus a broadcast slot; the separate slot lets two calls follow each
// other without a third barrier (the partials of call 2 are written after every thread
// has passed call 1's last barrier, and the slot is rewritten only after call 2's first).
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % kWarp;
  const int warp = threadIdx.x / kWarp;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x / kWarp;
    v = warp_sum(lane < warps ? scratch[lane] : 0.0f);
    if (lane == 0) scratch[kWarp] = v;
  }
  __syncthreads();
  return scratch[kWarp];
}

// Max of v over the block, same contract as block_sum.
__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x % kWarp;
  const int warp = threadIdx.x / kWarp;
  v = warp_max(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x / kWarp;
    v = warp_max(lane < warps ? scratch[lane] : -INFINITY);
    if (lane == 0) scratch[kWarp] = v;
  }
  __syncthreads();
  return scratch[kWarp];
}

}  // namespace xcit

#endif  // XCIT_CUDA_REDUCE_H
