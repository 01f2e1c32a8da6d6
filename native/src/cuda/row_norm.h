// LayerNorm of one row per block, the pieces layernorm.cu and class_attention_rows.cu
// share. A thread visits the runs of W elements (vec.h: W = 1, or kVec<T> with 16-byte
// accesses where the launcher found the rows aligned) starting at W * threadIdx.x and
// stepping W * blockDim.x, so it always touches the same elements of a row: a thread that
// re-reads what it wrote itself needs no barrier. Statistics are fp32 and two-pass (the
// mean, then the mean squared deviation from it: no E[x^2] - E[x]^2 cancellation), each
// reduced over the block in a fixed order (reduce.h), whatever the storage type. The CPU
// reference is src/cpu/layernorm.c.
#ifndef XCIT_CUDA_ROW_NORM_H
#define XCIT_CUDA_ROW_NORM_H

#include "cuda/reduce.h"
#include "cuda/vec.h"

namespace xcit {

// 256 threads keep a 384-wide row (XCiT-S/M) to 1.5 elements per thread while staying
// small enough for many resident blocks; narrower rows use fewer warps.
constexpr int kRowThreads = 256;

// Threads for a row of cols >= 1 elements taken W at a time: whole warps, at most kRowThreads.
inline int row_threads(int64_t cols, int w) {
  const int64_t warps = ceil_div(ceil_div(cols, w), kWarp);
  return static_cast<int>(warps * kWarp < kRowThreads ? warps * kWarp : kRowThreads);
}

template <int W, class F>
__device__ __forceinline__ void for_each_run(int64_t cols, F&& f) {
  for (int64_t c = static_cast<int64_t>(threadIdx.x) * W; c < cols; c += static_cast<int64_t>(blockDim.x) * W) f(c);
}

// mean and 1 / sqrt(var + eps) of row's cols elements (biased var); scratch: 33 floats of
// shared memory (block_sum). Ends with a barrier, so afterwards any thread may write the row.
template <class T, int W>
__device__ __forceinline__ void row_stats(const T* row, int64_t cols, float eps, float* scratch, float& mean,
                                          float& rstd) {
  float sum = 0.0f;
  for_each_run<W>(cols, [&](int64_t c) {
    float v[W];
    load_n<T, W>(row + c, v);
    for (int i = 0; i < W; ++i) sum += v[i];
  });
  mean = block_sum(sum, scratch) / static_cast<float>(cols);
  float squares = 0.0f;
  for_each_run<W>(cols, [&](int64_t c) {
    float v[W];
    load_n<T, W>(row + c, v);
    for (int i = 0; i < W; ++i) {
      const float d = v[i] - mean;
      squares += d * d;
    }
  });
  rstd = rsqrtf(block_sum(squares, scratch) / static_cast<float>(cols) + eps);
}

// dst = (row - mean) * rstd * gamma + beta element by element, one rounding; dst may be row.
template <class T, int W>
__device__ __forceinline__ void row_normalize(T* dst, const T* row, const T* gamma, const T* beta, int64_t cols,
                                              float mean, float rstd) {
  for_each_run<W>(cols, [&](int64_t c) {
    float v[W], g[W], b[W];
    load_n<T, W>(row + c, v);
    load_n<T, W>(gamma + c, g);
    load_n<T, W>(beta + c, b);
    for (int i = 0; i < W; ++i) v[i] = (v[i] - mean) * rstd * g[i] + b[i];
    store_n<T, W>(dst + c, v);
  });
}

}  // namespace xcit

#endif  // XCIT_CUDA_ROW_NORM_H
