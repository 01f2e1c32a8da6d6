// Cross-covariance attention core (Backend.xca, xcit_cuda.h) for fp32/fp16/bf16: per image
// and head, with d = C / heads <= 64 and the q, k, v of the head as N x d matrices,
//   Gram   G = Q^T K (d x d) and the squared row norms |q_i|^2, |k_j|^2, all fp32;
//   A      = softmax_j(tau G_ij / (max(|q_i|, 1e-12) max(|k_j|, 1e-12)))   (xca_softmax.h);
//   apply  out[n, i] = sum_j A_ij v[n, j], i.e. OUT = V A^T (N x d).
// Normalising after the reduction is exact algebra (spec 3): normalised q and k never
// exist. The two products run a warp per 16 x 16 tile (mma_tile.h): tensor cores for
// fp16/bf16 (fp32 accumulation; A is rounded to the storage type for the apply, one
// rounding like the output's), fp32 FMAs for fp32. Squared norms over N tokens overflow
// fp16 (N * 4^2 > 65504 already at N = 4096), hence fp32 for every sum.
//
// Two routes, chosen from the shape alone (results never depend on the GPU):
//   fused  one launch: xca_fused_kernel, a block per (image, head), reads q and k once for
//          G, then v once for the apply, and writes out once: the memory floor, no
//          workspace, half the launches. Taken when tokens <= kFusedTokens or
//          batch * heads >= kFusedBlocks.
//   split  two launches, for few images of many tokens, where a block per (image, head)
//          would leave most of the GPU idle: xca_gram_kernel splits the tokens across
//          blocks, each writing its partial G and norms to its own workspace slot;
//          xca_apply_kernel sums the slots in split order (fixed: deterministic), forms A
//          and applies it to its tile of tokens.
// Why tensor cores through one fused kernel rather than cuBLASLt strided-batched GEMMs,
// and where the thresholds come from: docs/gpu-performance.md. Both logical grids fold into
// the launch limits (grid.h); offsets are int64.
#include "cuda/cuda_check.h"
#include "cuda/fast_divmod.h"
#include "cuda/grid.h"
#include "cuda/mma_tile.h"
#include "cuda/vec.h"
#include "cuda/xca_softmax.h"
#include "xcit/xcit_cuda.h"

namespace {

constexpr int kMaxHeadDim = xcit::kXcaMaxHeadDim;
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kTile = xcit::kMmaTile;
constexpr int kApplyTokens = 64;  // tokens per block of the split route's apply kernel
constexpr int kTokensPerSplit = 64;
constexpr int kMaxSplits = 32;
// The fused route's bounds (docs/gpu-performance.md): a (image, head) block streams about
// 8 d bytes per token of a 16-bit session (q, k, v in, out back), 384 B at d = 48; up to
// 512 tokens (~200 KB) one SM's share takes about as long as the split route's second
// launch. From 256 blocks on, the blocks alone fill an H200's 132 SMs twice over.
constexpr int64_t kFusedTokens = 512;
constexpr int64_t kFusedBlocks = 256;

// Shared memory, one static block carved per phase (under the 48 KB static limit):
//   16-bit: [ G, later the apply's output tile | A in T | q, k tiles, later v ] + norms
//   fp32:   [ G, then A in place              | output tile | q, k tiles, later v ] + norms
// Operand rows of T are kLd = 72 elements (144 bytes for 16-bit: a multiple of 16 as wmma
// wants, skewed by 8 elements against bank conflicts), fp32 rows kLdF = 68 floats; every
// region starts 32-byte aligned, and so does every 16 x 16 tile in it.
constexpr int kLd = kMaxHeadDim + 8;
constexpr int kLdF = kMaxHeadDim + 4;

template <class T>
struct Smem {
  static constexpr bool kTensor = sizeof(T) == 2;
  static constexpr int kChunk = kTensor ? 64 : 32;  // tokens staged per step
  static constexpr int kGBytes = kMaxHeadDim * kLdF * 4;
  static constexpr int kSecond = kGBytes;
  static constexpr int kSecondBytes = kTensor ? kMaxHeadDim * kLd * 2 : kChunk * kLdF * 4;
  static constexpr int kOperands = kSecond + kSecondBytes;
  static constexpr int kOperandBytes = 2 * kChunk * kLd * static_cast<int>(sizeof(T));
  static constexpr int kNorms = kOperands + kOperandBytes;
  static constexpr int kBytes = kNorms + 2 * kMaxHeadDim * 4;
  static_assert(kSecond % 32 == 0 && kOperands % 32 == 0 && kNorms % 32 == 0, "32-byte aligned regions");
  static_assert(kBytes <= 48 * 1024, "static shared memory limit");

  unsigned char* base;
  __device__ float* g() const { return reinterpret_cast<float*>(base); }
  __device__ T* q() const { return reinterpret_cast<T*>(base + kOperands); }
  __device__ T* k() const { return q() + kChunk * kLd; }
  __device__ T* v() const { return q(); }
  __device__ float* norms() const { return reinterpret_cast<float*>(base + kNorms); }
  // The attention as the apply's B operand, and its row length.
  __device__ const T* attn() const {
    if constexpr (kTensor) return reinterpret_cast<const T*>(base + kSecond);
    else return g();
  }
  static constexpr int kAttnLd = kTensor ? kLd : kLdF;
  __device__ float* out_tile() const {
    if constexpr (kTensor) return g();
    else return reinterpret_cast<float*>(base + kSecond);
  }
};

// A head's feature geometry, fixed per launch. Staging moves units of W elements: W =
// kVec<T> (16 bytes) where d is a multiple of it and qkv and out are 16-byte aligned (the
// zoo's d = 32, 48, 64 in a session), else W = 1. Row and unit of a staged element come
// from FastDivmod, not the GPU's slow integer division (fast_divmod.h): a 32-bit '/' and
// '%' by a runtime d cost ~20 instructions, per 2-byte element before.
struct Head {
  int d, dp;                // features, and d rounded up to the 16 x 16 tiles
  xcit::FastDivmod by_dp;   // element of a dp x dp tile -> (row, column)
  xcit::FastDivmod by_in;   // unit of a staged chunk -> (token, unit): dp / W units a row
  xcit::FastDivmod by_out;  // unit of an output chunk -> (token, unit): d / W units a row
};

template <int W>
Head head_geometry(int d) {
  const int dp = static_cast<int>(xcit::ceil_div(d, kTile) * kTile);
  return Head{d, dp, xcit::FastDivmod(dp), xcit::FastDivmod(dp / W), xcit::FastDivmod(d / W)};
}

// Slot layout of the split route: G (d*d), |q|^2 (d), |k|^2 (d).
__host__ __device__ inline int64_t slot_floats(int64_t d) { return d * d + 2 * d; }

inline int64_t splits_for(int64_t tokens) {
  const int64_t s = xcit::ceil_div(tokens, kTokensPerSplit);
  return s < 1 ? 1 : (s > kMaxSplits ? kMaxSplits : s);
}

inline bool fused_route(int64_t batch, int64_t tokens, int64_t heads) {
  return tokens <= kFusedTokens || batch * heads >= kFusedBlocks;
}

// Rows t0 .. t0 + kChunk - 1 of one head's d features (src: the head's features in token 0,
// rows `stride` apart) into dst (kChunk x dp, rows kLd apart), zero past `end` and past d:
// the padding the 16 x 16 tiles multiply by contributes nothing. W elements at a time (a
// unit never straddles d: W divides d). Every thread calls it.
template <class T, int W>
__device__ void stage(T* dst, const T* src, int64_t t0, int64_t end, int64_t stride, const Head& h) {
  constexpr int kChunk = Smem<T>::kChunk;
  const int units = kChunk * static_cast<int>(h.by_in.divisor);
  for (int e = threadIdx.x; e < units; e += kThreads) {
    uint32_t ut, uu;
    h.by_in.divmod(static_cast<uint32_t>(e), ut, uu);
    const int t = static_cast<int>(ut), i = static_cast<int>(uu) * W;
    T* q = dst + t * kLd + i;
    if (t0 + t < end && i < h.d) xcit::copy_n<T, W>(q, src + (t0 + t) * stride + i);
    else xcit::zero_n<T, W>(q);
  }
}

// One head's Gram over tokens [begin, end): qk points at q of the head in token 0 (k is C
// further), rows 3C apart. Warp w accumulates the 16 x 16 tiles w and w + 8 of the dp x dp
// G (dp = d rounded up to 16; zero padding contributes nothing); threads < 2d sum |q_tid|^2
// (tid < d) or |k_(tid-d)|^2 into `norm`. Every thread calls it.
template <class T, int W>
__device__ void gram_pass(const Smem<T>& sm, xcit::WarpTile<T> (&acc)[2], float& norm, const T* qk,
                          int64_t begin, int64_t end, int64_t c, const Head& h) {
  constexpr int kChunk = Smem<T>::kChunk;
  const int tid = threadIdx.x, warp = tid / 32, nt = h.dp / kTile, d = h.d;
  T* qs = sm.q();
  T* ks = sm.k();
  for (int64_t t0 = begin; t0 < end; t0 += kChunk) {
    stage<T, W>(qs, qk, t0, end, 3 * c, h);
    stage<T, W>(ks, qk + c, t0, end, 3 * c, h);
    __syncthreads();
    for (int s = 0; s < 2; ++s) {
      const int tile = warp + kWarps * s;
      if (tile >= nt * nt) break;  // warp-uniform
      const int ti = tile / nt, tj = tile % nt;
      // A = Q^T: element (i, n) at qs[n * kLd + i], column-major; B = K: row-major.
      for (int kk = 0; kk < kChunk; kk += kTile) {
        acc[s].template mma<xcit::ColMajor, xcit::RowMajor>(qs + kk * kLd + ti * kTile, kLd,
                                                           ks + kk * kLd + tj * kTile, kLd);
      }
    }
    if (tid < 2 * d) {
      const T* col = tid < d ? qs + tid : ks + (tid - d);
      for (int t = 0; t < kChunk; ++t) {
        const float x = xcit::to_float(col[t * kLd]);
        norm = fmaf(x, x, norm);
      }
    }
    __syncthreads();  // the next chunk overwrites the tiles
  }
}

// G (fp32, rows kLdF apart) = the warps' accumulators.
template <class T>
__device__ void store_gram(const Smem<T>& sm, const xcit::WarpTile<T> (&acc)[2], int dp) {
  const int warp = threadIdx.x / 32, nt = dp / kTile;
  for (int s = 0; s < 2; ++s) {
    const int tile = warp + kWarps * s;
    if (tile >= nt * nt) break;
    acc[s].store(sm.g() + (tile / nt) * kTile * kLdF + (tile % nt) * kTile, kLdF);
  }
}

// From G and the norms in shared memory (barrier before): A into sm.attn(), zero outside
// d x d (the padded rows and columns must contribute nothing to the apply).
template <class T>
__device__ void attention(const Smem<T>& sm, const Head& h, float tau) {
  const int d = h.d, dp = h.dp;
  xcit::xca_softmax_rows(sm.g(), kLdF, sm.norms(), d, tau);
  __syncthreads();
  for (int e = threadIdx.x; e < dp * dp; e += kThreads) {
    uint32_t ui, uj;
    h.by_dp.divmod(static_cast<uint32_t>(e), ui, uj);
    const int i = static_cast<int>(ui), j = static_cast<int>(uj);
    const float a = i < d && j < d ? sm.g()[i * kLdF + j] : 0.0f;
    if constexpr (Smem<T>::kTensor) {
      reinterpret_cast<T*>(sm.base + Smem<T>::kSecond)[i * kLd + j] = xcit::from_float<T>(a);
    } else {
      sm.g()[i * kLdF + j] = a;
    }
  }
  __syncthreads();
}

// out rows [begin, end) of one head = V A^T: v and out point at the head's features in
// token 0, rows 3C and C apart. Warps take the (token tile, feature tile) pairs in turn.
template <class T, int W>
__device__ void apply_pass(const Smem<T>& sm, T* out, const T* v, int64_t begin, int64_t end, int64_t c,
                           const Head& h) {
  constexpr int kChunk = Smem<T>::kChunk, kLdA = Smem<T>::kAttnLd;
  const int tid = threadIdx.x, warp = tid / 32, nt = h.dp / kTile;
  T* vs = sm.v();
  float* os = sm.out_tile();
  for (int64_t t0 = begin; t0 < end; t0 += kChunk) {
    stage<T, W>(vs, v, t0, end, 3 * c, h);
    __syncthreads();
    for (int tile = warp; tile < (kChunk / kTile) * nt; tile += kWarps) {
      const int r = tile / nt, ci = tile % nt;
      xcit::WarpTile<T> acc;
      acc.zero();
      // A = V rows (row-major); B (j, i) = A_ij, i.e. the attention column-major.
      for (int js = 0; js < nt; ++js) {
        acc.template mma<xcit::RowMajor, xcit::ColMajor>(vs + r * kTile * kLd + js * kTile, kLd,
                                                         sm.attn() + ci * kTile * kLdA + js * kTile, kLdA);
      }
      acc.store(os + r * kTile * kLdF + ci * kTile, kLdF);
    }
    __syncthreads();
    const int units = kChunk * static_cast<int>(h.by_out.divisor);
    for (int e = tid; e < units; e += kThreads) {
      uint32_t ut, uu;
      h.by_out.divmod(static_cast<uint32_t>(e), ut, uu);
      const int t = static_cast<int>(ut), i = static_cast<int>(uu) * W;
      if (t0 + t >= end) break;  // e grows with t
      float o[W];
      for (int k = 0; k < W; ++k) o[k] = os[t * kLdF + i + k];
      xcit::store_n<T, W>(out + (t0 + t) * c + i, o);
    }
    // No barrier: the next chunk's staging writes vs only, and os is rewritten after the
    // barrier that follows it, which every thread reaches after its stores above.
  }
}

template <class T, bool Folded, int W>
__global__ void __launch_bounds__(kThreads)
    xca_fused_kernel(T* out, const T* qkv, const T* temperature, int64_t batch, int64_t tokens, int64_t c,
                     int64_t heads, Head h) {
  __align__(32) __shared__ unsigned char smem[Smem<T>::kBytes];
  const Smem<T> sm{smem};
  xcit::for_each_block<Folded>(heads, batch, 1, [&](int64_t head, int64_t b, int64_t) {
    const T* qk = qkv + b * tokens * 3 * c + head * h.d;
    xcit::WarpTile<T> acc[2];
    acc[0].zero();
    acc[1].zero();
    float norm = 0.0f;
    gram_pass<T, W>(sm, acc, norm, qk, 0, tokens, c, h);
    store_gram(sm, acc, h.dp);
    if (static_cast<int>(threadIdx.x) < 2 * h.d) sm.norms()[threadIdx.x] = sqrtf(norm);
    __syncthreads();
    attention(sm, h, xcit::to_float(temperature[head]));
    apply_pass<T, W>(sm, out + b * tokens * c + head * h.d, qk + 2 * c, 0, tokens, c, h);
  });
}

template <class T, bool Folded, int W>
__global__ void __launch_bounds__(kThreads)
    xca_gram_kernel(float* workspace, const T* qkv, int64_t batch, int64_t tokens, int64_t c, int64_t heads,
                    Head h, int64_t splits, int64_t per_split) {
  __align__(32) __shared__ unsigned char smem[Smem<T>::kBytes];
  const Smem<T> sm{smem};
  const int d = h.d;
  xcit::for_each_block<Folded>(splits, heads, batch, [&](int64_t split, int64_t head, int64_t b) {
    const int64_t begin = split * per_split;
    const int64_t end = begin + per_split < tokens ? begin + per_split : tokens;
    xcit::WarpTile<T> acc[2];
    acc[0].zero();
    acc[1].zero();
    float norm = 0.0f;
    gram_pass<T, W>(sm, acc, norm, qkv + b * tokens * 3 * c + head * d, begin, end, c, h);
    store_gram(sm, acc, h.dp);
    __syncthreads();
    float* slot = workspace + ((b * heads + head) * splits + split) * slot_floats(d);
    for (int e = threadIdx.x; e < d * d; e += kThreads) slot[e] = sm.g()[(e / d) * kLdF + e % d];
    if (static_cast<int>(threadIdx.x) < 2 * d) slot[d * d + threadIdx.x] = norm;
  });
}

template <class T, bool Folded, int W>
__global__ void __launch_bounds__(kThreads)
    xca_apply_kernel(T* out, const float* workspace, const T* qkv, const T* temperature, int64_t batch,
                     int64_t tokens, int64_t c, int64_t heads, Head h, int splits) {
  __align__(32) __shared__ unsigned char smem[Smem<T>::kBytes];
  const Smem<T> sm{smem};
  const int d = h.d, dp = h.dp;
  const int64_t stride = slot_floats(d);
  xcit::for_each_block<Folded>(xcit::ceil_div(tokens, kApplyTokens), heads, batch,
                               [&](int64_t tile, int64_t head, int64_t b) {
    // Sum the split slots in order 0, 1, ..., splits - 1 (deterministic); zero padding.
    const float* slots = workspace + (b * heads + head) * splits * stride;
    for (int e = threadIdx.x; e < dp * dp; e += kThreads) {
      uint32_t ui, uj;
      h.by_dp.divmod(static_cast<uint32_t>(e), ui, uj);
      const int i = static_cast<int>(ui), j = static_cast<int>(uj);
      float s = 0.0f;
      if (i < d && j < d) {
        for (int k = 0; k < splits; ++k) s += slots[k * stride + i * d + j];
      }
      sm.g()[i * kLdF + j] = s;
    }
    if (static_cast<int>(threadIdx.x) < 2 * d) {
      float s = 0.0f;
      for (int k = 0; k < splits; ++k) s += slots[k * stride + d * d + threadIdx.x];
      sm.norms()[threadIdx.x] = sqrtf(s);
    }
    __syncthreads();
    attention(sm, h, xcit::to_float(temperature[head]));
    const int64_t begin = tile * kApplyTokens;
    const int64_t end = begin + kApplyTokens < tokens ? begin + kApplyTokens : tokens;
    const int64_t head_offset = b * tokens * 3 * c + head * d;
    apply_pass<T, W>(sm, out + b * tokens * c + head * d, qkv + head_offset + 2 * c, begin, end, c, h);
  });
}

xcit_status check_shape(xcit_ctx* ctx, const char* op, int64_t batch, int64_t tokens,
                        int64_t channels, int64_t heads) {
  xcit_status st;
  if ((st = xcit_check_matrix(ctx, op, batch, tokens)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * tokens, 3 * channels)) != XCIT_OK) {
    return st;
  }
  if ((st = xcit_cuda_check_heads(ctx, op, channels, heads, kMaxHeadDim)) != XCIT_OK) return st;
  return XCIT_OK;
}

template <class T, int W>
cudaError_t launch(cudaStream_t stream, T* o, float* ws, const T* q, const T* tau, int64_t batch,
                   int64_t tokens, int64_t channels, int64_t heads, int d) {
  const Head h = head_geometry<W>(d);
  if (fused_route(batch, tokens, heads)) {
    const xcit::LaunchGrid g = xcit::launch_grid(heads, batch);
    return xcit_launch(g.folded ? xca_fused_kernel<T, true, W> : xca_fused_kernel<T, false, W>, g.dims,
                       dim3(kThreads), 0, stream, o, q, tau, batch, tokens, channels, heads, h);
  }
  const int64_t splits = splits_for(tokens);
  const int64_t per_split = xcit::ceil_div(tokens, splits);
  const xcit::LaunchGrid gram = xcit::launch_grid(splits, heads, batch);
  cudaError_t err = xcit_launch(gram.folded ? xca_gram_kernel<T, true, W> : xca_gram_kernel<T, false, W>,
                                gram.dims, dim3(kThreads), 0, stream, ws, q, batch, tokens, channels,
                                heads, h, splits, per_split);
  const xcit::LaunchGrid apply = xcit::launch_grid(xcit::ceil_div(tokens, kApplyTokens), heads, batch);
  if (err == cudaSuccess) {
    err = xcit_launch(apply.folded ? xca_apply_kernel<T, true, W> : xca_apply_kernel<T, false, W>,
                      apply.dims, dim3(kThreads), 0, stream, o, static_cast<const float*>(ws), q, tau,
                      batch, tokens, channels, heads, h, static_cast<int>(splits));
  }
  return err;
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
  T* o = reinterpret_cast<T*>(out);
  const T* q = reinterpret_cast<const T*>(qkv);
  const T* tau = reinterpret_cast<const T*>(temperature);
  // d a multiple of the unit and 16-byte aligned bases: every row and head starts aligned.
  const cudaError_t err =
      xcit::vector_rows<T>(d, {out, qkv})
          ? launch<T, xcit::kVec<T>>(xcit_cuda_stream(ctx), o, static_cast<float*>(workspace), q, tau, batch,
                                     tokens, channels, heads, d)
          : launch<T, 1>(xcit_cuda_stream(ctx), o, static_cast<float*>(workspace), q, tau, batch, tokens,
                         channels, heads, d);
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
  *bytes = fused_route(batch, tokens, heads)
               ? 0
               : batch * heads * splits_for(tokens) * slot_floats(d) * static_cast<int64_t>(sizeof(float));
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
