// Launch geometry and argument checks shared by the element-wise ops (add_scaled,
// add_broadcast, bias_gelu, channel_affine, convert, row copies): grid-stride loops over
// int64 element counts, so any size fits one launch.
#ifndef XCIT_CUDA_ELEMENTWISE_H
#define XCIT_CUDA_ELEMENTWISE_H

#include "cuda/compat.h"

namespace xcit {

constexpr int kElementwiseThreads = 256;
// Enough blocks to fill any current GPU several times over (132 SMs x 16 blocks); more
// only adds scheduling work, since every thread strides over the remainder.
constexpr int64_t kMaxElementwiseBlocks = 4096;

inline dim3 elementwise_grid(int64_t n) {
  const int64_t blocks = ceil_div(n, kElementwiseThreads);
  return dim3(static_cast<unsigned>(blocks < kMaxElementwiseBlocks ? blocks : kMaxElementwiseBlocks));
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
