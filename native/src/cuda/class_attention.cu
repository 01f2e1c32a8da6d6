// Class attention (Backend.classAttention, xcit_cuda.h) for fp32/fp16/bf16: the cls
// query against all T rows, per head, softmax(q.k / sqrt d), weighted sum of v.
//
// One logical block per (head, image) (folded into the launch limits, grid.h), 8 warps;
// warp w takes rows t = w, w + 8, ... and its lanes split the head dimension (d <= 64:
// two components per lane). Two passes so that T is unbounded (no T-sized score buffer):
// pass 1 keeps a running max and sum per warp (online softmax), merged across warps in
// warp order; pass 2 recomputes each score (2 d flops, cheaper than storing T floats)
// and accumulates p_t v_t, merged across warps in warp order. Both merges have a fixed
// order: deterministic. Offsets are int64 (B T 2C passes 2^31 from 11 images of 8192^2
// with p16: 262,145 rows x 768 each).
#include "cuda/cuda_check.h"
#include "cuda/grid.h"
#include "cuda/reduce.h"
#include "xcit/xcit_cuda.h"

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / xcit::kWarp;
constexpr int kMaxHeadDim = 64;

template <class T>
__device__ float score(const T* q, const T* k, int d, int lane, float scale) {
  float s = 0.0f;
  if (lane < d) s = xcit::to_float(q[lane]) * xcit::to_float(k[lane]);
  if (lane + 32 < d) s = fmaf(xcit::to_float(q[lane + 32]), xcit::to_float(k[lane + 32]), s);
  return xcit::warp_sum(s) * scale;
}

template <class T, bool Folded>
__global__ void __launch_bounds__(kThreads)
    class_attention_kernel(T* out, T* weights, const T* q, const T* kv, int64_t batch,
                           int64_t rows, int64_t c, int64_t heads, int d) {
  __shared__ float part_max[kWarps], part_sum[kWarps];
  __shared__ float partial[kWarps][kMaxHeadDim];
  // int only within the block (warp < 8, lane < 32, d <= 64); rows t and offsets int64.
  const int warp = threadIdx.x / xcit::kWarp, lane = threadIdx.x % xcit::kWarp;
  const float scale = rsqrtf(static_cast<float>(d));
  xcit::for_each_block<Folded>(heads, batch, 1, [&](int64_t head, int64_t b, int64_t) {
    const T* qh = q + b * c + head * d;
    const T* kvb = kv + b * rows * 2 * c + head * d;
    T* wh = weights != nullptr ? weights + (b * heads + head) * rows : nullptr;

    // Pass 1: per-warp online max / sum of exp.
    float m = -INFINITY, l = 0.0f;
    for (int64_t t = warp; t < rows; t += kWarps) {
      const float s = score(qh, kvb + t * 2 * c, d, lane, scale);
      const float nm = fmaxf(m, s);
      l = l * __expf(m - nm) + __expf(s - nm);
      m = nm;
    }
    if (lane == 0) {
      part_max[warp] = m;
      part_sum[warp] = l;
    }
    __syncthreads();
    float gm = -INFINITY, gl = 0.0f;
    for (int w = 0; w < kWarps; ++w) gm = fmaxf(gm, part_max[w]);
    for (int w = 0; w < kWarps; ++w) {
      if (part_sum[w] > 0.0f) gl += part_sum[w] * __expf(part_max[w] - gm);
    }
    const float inv = 1.0f / gl;

    // Pass 2: probabilities (optionally stored) and the weighted sum of v.
    float acc0 = 0.0f, acc1 = 0.0f;
    for (int64_t t = warp; t < rows; t += kWarps) {
      const T* row = kvb + t * 2 * c;
      const float p = __expf(score(qh, row, d, lane, scale) - gm) * inv;
      if (wh != nullptr && lane == 0) wh[t] = xcit::from_float<T>(p);
      if (lane < d) acc0 = fmaf(p, xcit::to_float(row[c + lane]), acc0);
      if (lane + 32 < d) acc1 = fmaf(p, xcit::to_float(row[c + lane + 32]), acc1);
    }
    if (lane < d) partial[warp][lane] = acc0;
    if (lane + 32 < d) partial[warp][lane + 32] = acc1;
    __syncthreads();
    const int i = threadIdx.x;
    if (i < d) {
      float v = 0.0f;
      for (int w = 0; w < kWarps; ++w) v += partial[w][i];
      out[b * c + head * d + i] = xcit::from_float<T>(v);
    }
  });
}

template <class T, class S>
xcit_status class_attention_entry(const char* op, xcit_ctx* ctx, S* out, S* weights,
                                  const S* q, const S* kv, int64_t batch, int64_t rows,
                                  int64_t channels, int64_t heads) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "q", q)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "kv", kv)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch, rows)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * rows, 2 * channels)) != XCIT_OK) {
    return st;
  }
  if ((st = xcit_cuda_check_heads(ctx, op, channels, heads, kMaxHeadDim)) != XCIT_OK) return st;
  if (batch > 0 && rows < 1) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: rows = %lld (the softmax needs a row)",
                     op, static_cast<long long>(rows));
  }
  if (batch == 0) return XCIT_OK;
  const xcit::LaunchGrid g = xcit::launch_grid(heads, batch);
  return xcit_cuda_launched(
      ctx, op,
      xcit_launch(g.folded ? class_attention_kernel<T, true> : class_attention_kernel<T, false>,
                  g.dims, dim3(kThreads), 0, xcit_cuda_stream(ctx), reinterpret_cast<T*>(out),
                  reinterpret_cast<T*>(weights), reinterpret_cast<const T*>(q),
                  reinterpret_cast<const T*>(kv), batch, rows, channels, heads,
                  static_cast<int>(channels / heads)));
}

}  // namespace

xcit_status xcit_cuda_class_attention_f32(xcit_ctx* ctx, float* out, float* weights,
                                          const float* q, const float* kv, int64_t batch,
                                          int64_t rows, int64_t channels, int64_t heads) {
  return class_attention_entry<float>("xcit_cuda_class_attention_f32", ctx, out, weights, q, kv,
                                      batch, rows, channels, heads);
}
xcit_status xcit_cuda_class_attention_f16(xcit_ctx* ctx, uint16_t* out, uint16_t* weights,
                                          const uint16_t* q, const uint16_t* kv, int64_t batch,
                                          int64_t rows, int64_t channels, int64_t heads) {
  return class_attention_entry<xcit::f16>("xcit_cuda_class_attention_f16", ctx, out, weights, q,
                                          kv, batch, rows, channels, heads);
}
xcit_status xcit_cuda_class_attention_bf16(xcit_ctx* ctx, uint16_t* out, uint16_t* weights,
                                           const uint16_t* q, const uint16_t* kv, int64_t batch,
                                           int64_t rows, int64_t channels, int64_t heads) {
  return class_attention_entry<xcit::bf16>("xcit_cuda_class_attention_bf16", ctx, out, weights,
                                           q, kv, batch, rows, channels, heads);
}
