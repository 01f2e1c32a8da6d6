// Cross-covariance attention core (Backend.xca, xcit_cuda.h) for fp32/fp16/bf16, fused
// into two kernels with no intermediate q/k/v copies and no float atomics:
//
//   xca_gram_kernel   blocks (splits, heads, batch): block s accumulates, over its slice of
//                     tokens, the raw Gram q^T k (d x d) and the squared row norms of q
//                     and k, all in fp32, and writes them to its own workspace slot.
//   xca_apply_kernel  blocks (token tiles, heads, batch): sums the slots in split order
//                     (fixed, so results never depend on which block ran first), forms
//                     A = softmax(tau * G / (|q_i| |k_j|)) in shared memory, and applies
//                     it to its tile of tokens: out[n, i] = sum_j A[i, j] v[n, j].
//
// Normalising after the reduction is exact algebra (spec 3): <q_i/|q_i|, k_j/|k_j|> =
// G[i, j] / (|q_i| |k_j|), so normalised q and k never exist. Squared norms over N
// tokens overflow fp16 (N * 4^2 > 65504 already at N = 4096), hence fp32 throughout.
// The split count depends only on N, so a shape gives bit-identical results on any GPU.
// Both logical grids fold into the launch limits (grid.h); offsets are int64.
#include "cuda/cuda_check.h"
#include "cuda/grid.h"
#include "cuda/xca_softmax.h"
#include "xcit/xcit_cuda.h"

namespace {

constexpr int kMaxHeadDim = xcit::kXcaMaxHeadDim;
constexpr int kThreads = 256;      // 16 x 16: each owns up to 4 x 4 Gram entries
constexpr int kTokenChunk = 32;    // tokens staged in shared memory per step (gram)
constexpr int kApplyTokens = 64;   // tokens per block of the apply kernel
constexpr int kTokensPerSplit = 64;
constexpr int kMaxSplits = 32;

// Slot layout: G (d*d), |q|^2 (d), |k|^2 (d).
__host__ __device__ inline int64_t slot_floats(int64_t d) { return d * d + 2 * d; }

inline int64_t splits_for(int64_t tokens) {
  const int64_t s = xcit::ceil_div(tokens, kTokensPerSplit);
  return s < 1 ? 1 : (s > kMaxSplits ? kMaxSplits : s);
}

// qkv (B, N, 3C): q of head h is features [h*d, h*d + d), k adds C, v adds 2C.
template <class T, bool Folded>
__global__ void __launch_bounds__(kThreads)
    xca_gram_kernel(float* workspace, const T* qkv, int64_t batch, int64_t tokens, int64_t c,
                    int64_t heads, int d, int64_t splits, int64_t per_split) {
  __shared__ float qs[kTokenChunk][kMaxHeadDim];
  __shared__ float ks[kTokenChunk][kMaxHeadDim];
  // int only within the block (e < kTokenChunk * d <= 2048, i, j < d <= 64); tokens and
  // element offsets are int64.
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  xcit::for_each_block<Folded>(splits, heads, batch, [&](int64_t split, int64_t head, int64_t b) {
    const int64_t begin = split * per_split;
    const int64_t end = begin + per_split < tokens ? begin + per_split : tokens;
    const T* base = qkv + b * tokens * 3 * c + head * d;

    float g[4][4] = {};
    float norm = 0.0f;  // tid < d: |q_tid|^2; d <= tid < 2d: |k_(tid-d)|^2
    for (int64_t t0 = begin; t0 < end; t0 += kTokenChunk) {
      for (int e = tid; e < kTokenChunk * d; e += kThreads) {
        const int t = e / d, i = e % d;
        const int64_t n = t0 + t;
        const bool in = n < end;
        qs[t][i] = in ? xcit::to_float(base[n * 3 * c + i]) : 0.0f;
        ks[t][i] = in ? xcit::to_float(base[n * 3 * c + c + i]) : 0.0f;
      }
      __syncthreads();
      for (int t = 0; t < kTokenChunk; ++t) {
        for (int a = 0; a < 4; ++a) {
          const int i = ty + 16 * a;
          if (i >= d) break;
          for (int e = 0; e < 4; ++e) {
            const int j = tx + 16 * e;
            if (j < d) g[a][e] = fmaf(qs[t][i], ks[t][j], g[a][e]);
          }
        }
        if (tid < d) norm = fmaf(qs[t][tid], qs[t][tid], norm);
        else if (tid < 2 * d) norm = fmaf(ks[t][tid - d], ks[t][tid - d], norm);
      }
      __syncthreads();
    }
    float* slot = workspace + ((b * heads + head) * splits + split) * slot_floats(d);
    for (int a = 0; a < 4; ++a) {
      for (int e = 0; e < 4; ++e) {
        const int i = ty + 16 * a, j = tx + 16 * e;
        if (i < d && j < d) slot[i * d + j] = g[a][e];
      }
    }
    if (tid < 2 * d) slot[d * d + tid] = norm;
  });
}

template <class T, bool Folded>
__global__ void __launch_bounds__(kThreads)
    xca_apply_kernel(T* out, const float* workspace, const T* qkv, const T* temperature,
                     int64_t batch, int64_t tokens, int64_t c, int64_t heads, int d, int splits) {
  __shared__ float attn[kMaxHeadDim][kMaxHeadDim + 1];
  __shared__ float norms[2 * kMaxHeadDim];
  __shared__ float vs[kApplyTokens][kMaxHeadDim + 1];
  // int only within the block (e < kApplyTokens * d <= 4096, splits <= 32); tokens and
  // element offsets are int64.
  const int tid = threadIdx.x;
  const int64_t stride = slot_floats(d);
  xcit::for_each_block<Folded>(xcit::ceil_div(tokens, kApplyTokens), heads, batch,
                               [&](int64_t tile, int64_t head, int64_t b) {
    const float* slots = workspace + (b * heads + head) * splits * stride;

    // 1. Sum the split slots in order 0, 1, ..., splits - 1 (deterministic).
    for (int e = tid; e < stride; e += kThreads) {
      float s = 0.0f;
      for (int k = 0; k < splits; ++k) s += slots[k * stride + e];
      if (e < d * d) attn[e / d][e % d] = s;
      else norms[e - d * d] = sqrtf(s);
    }
    __syncthreads();

    // 2. The attention, in place (the barrier after step 3's loads orders it before use).
    xcit::xca_softmax_rows(&attn[0][0], kMaxHeadDim + 1, norms, d, xcit::to_float(temperature[head]));

    // 3. out[n, i] = sum_j A[i, j] v[n, j] for this block's tokens.
    const int64_t t0 = tile * kApplyTokens;
    const T* vbase = qkv + b * tokens * 3 * c + 2 * c + head * d;
    for (int e = tid; e < kApplyTokens * d; e += kThreads) {
      const int t = e / d, j = e % d;
      vs[t][j] = t0 + t < tokens ? xcit::to_float(vbase[(t0 + t) * 3 * c + j]) : 0.0f;
    }
    __syncthreads();  // also orders step 2's writes to attn before the reads below
    T* obase = out + b * tokens * c + head * d;
    for (int e = tid; e < kApplyTokens * d; e += kThreads) {
      const int t = e / d, i = e % d;
      if (t0 + t >= tokens) break;  // e grows with t: nothing after this is in range either
      float acc = 0.0f;
      for (int j = 0; j < d; ++j) acc = fmaf(attn[i][j], vs[t][j], acc);
      obase[(t0 + t) * c + i] = xcit::from_float<T>(acc);
    }
  });
}

xcit_status check_shape(xcit_ctx* ctx, const char* op, int64_t batch, int64_t tokens,
                        int64_t channels, int64_t heads) {
  xcit_status st;
  if ((st = xcit_check_matrix(ctx, op, batch, tokens)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * tokens, 3 * channels)) != XCIT_OK) {
    return st;
  }
  if (heads < 1 || channels < 1 || channels % heads != 0) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT,
                     "%s: channels = %lld must be a positive multiple of heads = %lld", op,
                     static_cast<long long>(channels), static_cast<long long>(heads));
  }
  if (channels / heads > kMaxHeadDim) {
    return xcit_fail(ctx, XCIT_ERR_UNSUPPORTED, "%s: head dim %lld exceeds %d", op,
                     static_cast<long long>(channels / heads), kMaxHeadDim);
  }
  return XCIT_OK;
}

template <class T, class S>
xcit_status xca_entry(const char* op, xcit_ctx* ctx, S* out, void* workspace, const S* qkv,
                      const S* temperature, int64_t batch, int64_t tokens, int64_t channels,
                      int64_t heads) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "workspace", workspace)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "qkv", qkv)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "temperature", temperature)) != XCIT_OK ||
      (st = check_shape(ctx, op, batch, tokens, channels, heads)) != XCIT_OK) {
    return st;
  }
  if (batch == 0 || tokens == 0) return XCIT_OK;
  const int d = static_cast<int>(channels / heads);
  const int64_t splits = splits_for(tokens);
  const int64_t per_split = xcit::ceil_div(tokens, splits);
  const cudaStream_t stream = xcit_cuda_stream(ctx);
  float* ws = static_cast<float*>(workspace);
  const T* q = reinterpret_cast<const T*>(qkv);
  const xcit::LaunchGrid gram = xcit::launch_grid(splits, heads, batch);
  cudaError_t err = xcit_launch(gram.folded ? xca_gram_kernel<T, true> : xca_gram_kernel<T, false>,
                                gram.dims, dim3(kThreads), 0, stream, ws, q, batch, tokens,
                                channels, heads, d, splits, per_split);
  const xcit::LaunchGrid apply =
      xcit::launch_grid(xcit::ceil_div(tokens, kApplyTokens), heads, batch);
  if (err == cudaSuccess) {
    err = xcit_launch(apply.folded ? xca_apply_kernel<T, true> : xca_apply_kernel<T, false>,
                      apply.dims, dim3(kThreads), 0, stream, reinterpret_cast<T*>(out),
                      static_cast<const float*>(ws), q, reinterpret_cast<const T*>(temperature),
                      batch, tokens, channels, heads, d, static_cast<int>(splits));
  }
  return xcit_cuda_launched(ctx, op, err);
}

}  // namespace

xcit_status xcit_cuda_xca_workspace_size(xcit_ctx* ctx, int64_t* bytes, int64_t batch,
                                         int64_t tokens, int64_t channels, int64_t heads) {
  static const char* const op = "xcit_cuda_xca_workspace_size";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "bytes", bytes)) != XCIT_OK ||
      (st = check_shape(ctx, op, batch, tokens, channels, heads)) != XCIT_OK) {
    return st;
  }
  const int64_t d = channels / heads;
  *bytes = batch * heads * splits_for(tokens) * slot_floats(d) * static_cast<int64_t>(sizeof(float));
  return XCIT_OK;
}

xcit_status xcit_cuda_xca_f32(xcit_ctx* ctx, float* out, void* workspace, const float* qkv,
                              const float* temperature, int64_t batch, int64_t tokens,
                              int64_t channels, int64_t heads) {
  return xca_entry<float>("xcit_cuda_xca_f32", ctx, out, workspace, qkv, temperature, batch,
                          tokens, channels, heads);
}
xcit_status xcit_cuda_xca_f16(xcit_ctx* ctx, uint16_t* out, void* workspace, const uint16_t* qkv,
                              const uint16_t* temperature, int64_t batch, int64_t tokens,
                              int64_t channels, int64_t heads) {
  return xca_entry<xcit::f16>("xcit_cuda_xca_f16", ctx, out, workspace, qkv, temperature, batch,
                              tokens, channels, heads);
}
xcit_status xcit_cuda_xca_bf16(xcit_ctx* ctx, uint16_t* out, void* workspace,
                               const uint16_t* qkv, const uint16_t* temperature, int64_t batch,
                               int64_t tokens, int64_t channels, int64_t heads) {
  return xca_entry<xcit::bf16>("xcit_cuda_xca_bf16", ctx, out, workspace, qkv, temperature,
                               batch, tokens, channels, heads);
}
