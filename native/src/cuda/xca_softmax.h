// The step both XCA paths share (xca.cu, xca_fold.cu): from a raw d x d Gram matrix G of
// one head and the row norms of q and k, the attention
//   A[i, j] = softmax_j(tau * G[i, j] / (max(|q_i|, 1e-12) * max(|k_j|, 1e-12)))
// in place, in shared memory. A warp per row, j = lane and lane + 32 (d <= 64).
// Must be called by every thread of the block (whole warps); the caller synchronises
// before and after.
#ifndef XCIT_CUDA_XCA_SOFTMAX_H
#define XCIT_CUDA_XCA_SOFTMAX_H

#include "cuda/reduce.h"

namespace xcit {

constexpr int kXcaMaxHeadDim = 64;  // zoo: 32, 48, 64
constexpr float kXcaNormEps = 1e-12f;  // F.normalize's eps

// g: row i at g + i * stride; norms: |q_0..q_{d-1}|, then |k_0..k_{d-1}| (not squared).
__device__ __forceinline__ void xca_softmax_rows(float* g, int stride, const float* norms, int d,
                                                 float tau) {
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const int warps = blockDim.x / kWarp;
  for (int i = warp; i < d; i += warps) {
    float* row = g + i * stride;
    const float qn = fmaxf(norms[i], kXcaNormEps);
    const int j0 = lane, j1 = lane + kWarp;
    const float v0 = j0 < d ? tau * row[j0] / (qn * fmaxf(norms[d + j0], kXcaNormEps)) : -INFINITY;
    const float v1 = j1 < d ? tau * row[j1] / (qn * fmaxf(norms[d + j1], kXcaNormEps)) : -INFINITY;
    const float m = warp_max(fmaxf(v0, v1));
    const float e0 = j0 < d ? __expf(v0 - m) : 0.0f;
    const float e1 = j1 < d ? __expf(v1 - m) : 0.0f;
    const float inv = 1.0f / warp_sum(e0 + e1);
    if (j0 < d) row[j0] = e0 * inv;
    if (j1 < d) row[j1] = e1 * inv;
  }
}

}  // namespace xcit

#endif  // XCIT_CUDA_XCA_SOFTMAX_H
