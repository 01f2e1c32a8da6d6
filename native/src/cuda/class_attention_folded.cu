// Class attention with the k and v projections folded away (Backend.foldsClassAttention,
// xcit_cuda.h) for fp32/fp16/bf16, in one launch. Per image b and head h (d = C / heads,
// s = d^-1/2), with u (B, T, C) the class-attention stage's normalised rows:
//   q_h   = q[b, h*d:(h+1)*d], or Wq[h*d + j, :] . u[b, 0] + bq[h*d + j] computed here
//   K'_h  = s sum_j q_h[j] Wk[h*d + j, :] (C values),  c_h = s q_h . bk_h
//   a_t   = softmax_t(u[b, t] . K'_h + c_h) = softmax_t(q_h . k_{t,h} / sqrt d)
//   out[b, h*d + j] = Wv[h*d + j, :] . ubar_h + bv[h*d + j],  ubar_h = sum_t a_t u[b, t]
// since a head's weights sum to 1: O(T C heads) instead of the O(T C^2) k and v GEMM, and
// no (B, T, 2C) k/v tensor written and read back. The CPU reference is
// xcit_cpu_class_attention_folded_f32 (the same fold, float32 throughout).
//
// Logical blocks (splits, heads, batch), folded into the launch limits (grid.h). A block
// takes the rows of its split, a warp every 8th of them, keeping the softmax online (a
// running max m, sum l and ubar rescaled when m grows) so u is read once; the warps merge
// in warp order. With several splits (few images: splits_for) each block publishes
// (m, l, ubar) to its workspace slot, and the last block of an (image, head) to arrive
// (a counter per (image, head), __threadfence before it, the CUDA threadFenceReduction
// pattern) merges the slots in split order, so the result never depends on which block
// ran last. That block then projects ubar through Wv, turns the scores it finds in the
// workspace into the attention weights, and sets its counter back to 0 for the next call
// (a CUDA graph replays the same launch). Scores, max, sums and ubar are fp32; u and the
// weight rows move in 16-byte vectors where every row is aligned (vec.h).
#include "cuda/cuda_check.h"
#include "cuda/grid.h"
#include "cuda/reduce.h"
#include "cuda/vec.h"
#include "xcit/xcit_cuda.h"

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / xcit::kWarp;
constexpr int kMaxHeadDim = 64;
constexpr int kMaxChannels = 1024;  // zoo: 128 to 768; bounds the per-warp ubar in shared memory
// (split, head, image) blocks to aim for (an H200 has 132 SMs), each with at least 64 rows.
constexpr int64_t kTargetBlocks = 256;
constexpr int64_t kMinRowsPerSplit = 64;
constexpr int64_t kMaxSplits = 64;

int64_t splits_for(int64_t batch, int64_t heads, int64_t rows) {
  int64_t s = xcit::ceil_div(kTargetBlocks, batch * heads);
  const int64_t most = xcit::ceil_div(rows, kMinRowsPerSplit);
  if (s > most) s = most;
  if (s > kMaxSplits) s = kMaxSplits;
  return s < 1 ? 1 : s;
}

// Workspace: counters (batch * heads uint32, padded to 16 bytes), then the slots
// (batch * heads * splits of [m, l, ubar (C)] floats, used when splits > 1), then the raw
// scores (batch * heads * rows floats, used when weights are asked for).
struct Layout {
  int64_t counters_bytes, slots, slot_floats, scores;  // slots and scores: float offsets
  int64_t bytes;
  static Layout of(int64_t batch, int64_t rows, int64_t c, int64_t heads) {
    Layout l{};
    l.counters_bytes = xcit::ceil_div(batch * heads * 4, 16) * 16;
    const int64_t splits = splits_for(batch, heads, rows);
    l.slot_floats = c + 2;
    l.slots = l.counters_bytes / 4;
    l.scores = l.slots + (splits > 1 ? batch * heads * splits * l.slot_floats : 0);
    l.bytes = (l.scores + batch * heads * rows) * 4;
    return l;
  }
};

template <class T>
struct Args {
  T* out;
  T* weights;
  float* ws;
  unsigned* counters;
  const T* q;
  const T* u;
  const T *q_weight, *q_bias, *kv_weight, *kv_bias;
  int64_t batch, rows, c, heads, splits, per_split;
  int d;
  Layout layout;
};

// Merge of partial softmax sums: the weight of a part with max m_p and sum l_p against the
// overall max m (an empty part, l_p = 0, weighs 0 even when both maxima are -inf).
__device__ __forceinline__ float part_weight(float m_p, float l_p, float m) {
  return l_p > 0.0f ? __expf(m_p - m) : 0.0f;
}

template <class T, bool Folded, int W>
__global__ void __launch_bounds__(kThreads) class_attention_folded_kernel(Args<T> a) {
  constexpr int kRuns = kMaxChannels / (xcit::kWarp * W);  // runs of W channels per lane
  __shared__ float qh[kMaxHeadDim];
  __shared__ float vec[kMaxChannels];           // K'_h, later ubar_h
  __shared__ float part[kWarps][kMaxChannels];  // each warp's ubar
  __shared__ float warp_m[kWarps], warp_l[kWarps];
  __shared__ float bias_score;
  __shared__ bool last;
  // int only within the block (tid, warp, lane, j < d <= 64); rows, channels and offsets int64.
  const int tid = threadIdx.x, warp = tid / xcit::kWarp, lane = tid % xcit::kWarp;
  const int64_t c = a.c;
  const int d = a.d;
  const float scale = rsqrtf(static_cast<float>(d));
  // Lane's run k covers channels [(lane + 32 k) W, ... + W); C is a multiple of W.
  auto run = [&](int k) { return static_cast<int64_t>(lane + xcit::kWarp * k) * W; };
  xcit::for_each_block<Folded>(a.splits, a.heads, a.batch, [&](int64_t split, int64_t h, int64_t b) {
    const T* ub = a.u + b * a.rows * c;
    const int64_t bh = b * a.heads + h;

    // 1. The head's query.
    if (a.q_weight != nullptr) {
      for (int j = warp; j < d; j += kWarps) {
        const T* wrow = a.q_weight + (h * d + j) * c;
        float acc = 0.0f;
        for (int64_t i0 = static_cast<int64_t>(lane) * W; i0 < c; i0 += xcit::kWarp * W) {
          float w[W], x[W];
          xcit::load_n<T, W>(wrow + i0, w);
          xcit::load_n<T, W>(ub + i0, x);
          for (int i = 0; i < W; ++i) acc = fmaf(w[i], x[i], acc);
        }
        acc = xcit::warp_sum(acc);
        if (lane == 0) qh[j] = acc + (a.q_bias != nullptr ? xcit::to_float(a.q_bias[h * d + j]) : 0.0f);
      }
    } else if (tid < d) {
      qh[tid] = xcit::to_float(a.q[b * c + h * d + tid]);
    }
    __syncthreads();

    // 2. K'_h and c_h.
    for (int64_t i = tid; i < c; i += kThreads) {
      float acc = 0.0f;
      for (int j = 0; j < d; ++j) acc = fmaf(qh[j], xcit::to_float(a.kv_weight[(h * d + j) * c + i]), acc);
      vec[i] = acc * scale;
    }
    if (warp == 0) {
      float acc = 0.0f;
      if (a.kv_bias != nullptr) {
        for (int j = lane; j < d; j += xcit::kWarp) acc = fmaf(qh[j], xcit::to_float(a.kv_bias[h * d + j]), acc);
      }
      acc = xcit::warp_sum(acc);
      if (lane == 0) bias_score = acc * scale;
    }
    __syncthreads();
    float key[kRuns][W];
    for (int k = 0; k < kRuns; ++k) {
      for (int i = 0; i < W; ++i) key[k][i] = run(k) < c ? vec[run(k) + i] : 0.0f;
    }
    const float bias = bias_score;

    // 3. This split's rows, a warp every kWarps-th: scores, online softmax, ubar.
    const int64_t t0 = split * a.per_split;
    const int64_t t1 = t0 + a.per_split < a.rows ? t0 + a.per_split : a.rows;
    float* scores = a.weights != nullptr ? a.ws + a.layout.scores + bh * a.rows : nullptr;
    float m = -INFINITY, l = 0.0f, acc[kRuns][W] = {};
    for (int64_t t = t0 + warp; t < t1; t += kWarps) {
      const T* row = ub + t * c;
      float x[kRuns][W] = {};
      float dot = 0.0f;
      for (int k = 0; k < kRuns; ++k) {
        if (run(k) >= c) continue;
        xcit::load_n<T, W>(row + run(k), x[k]);
        for (int i = 0; i < W; ++i) dot = fmaf(key[k][i], x[k][i], dot);
      }
      const float s = xcit::warp_sum(dot) + bias;
      if (scores != nullptr && lane == 0) scores[t] = s;
      const float nm = fmaxf(m, s), correction = __expf(m - nm), p = __expf(s - nm);
      l = l * correction + p;
      for (int k = 0; k < kRuns; ++k) {
        for (int i = 0; i < W; ++i) acc[k][i] = acc[k][i] * correction + p * x[k][i];
      }
      m = nm;
    }

    // 4. The block's (m, l, ubar), warps merged in warp order.
    if (lane == 0) {
      warp_m[warp] = m;
      warp_l[warp] = l;
    }
    for (int k = 0; k < kRuns; ++k) {
      if (run(k) < c) {
        for (int i = 0; i < W; ++i) part[warp][run(k) + i] = acc[k][i];
      }
    }
    __syncthreads();
    float mb = -INFINITY, lb = 0.0f;
    for (int w = 0; w < kWarps; ++w) mb = fmaxf(mb, warp_m[w]);
    for (int w = 0; w < kWarps; ++w) lb += warp_l[w] * part_weight(warp_m[w], warp_l[w], mb);
    for (int64_t i = tid; i < c; i += kThreads) {
      float v = 0.0f;
      for (int w = 0; w < kWarps; ++w) v += part[w][i] * part_weight(warp_m[w], warp_l[w], mb);
      vec[i] = v;
    }

    // 5. Several splits: publish; the last block of (image, head) merges them in order.
    if (a.splits > 1) {
      float* slot = a.ws + a.layout.slots + (bh * a.splits + split) * a.layout.slot_floats;
      if (tid == 0) {
        slot[0] = mb;
        slot[1] = lb;
      }
      for (int64_t i = tid; i < c; i += kThreads) slot[2 + i] = vec[i];
      __threadfence();  // slot and scores visible device-wide before the count says so
      __syncthreads();
      if (tid == 0) last = atomicAdd(&a.counters[bh], 1u) == static_cast<unsigned>(a.splits - 1);
      __syncthreads();
      if (!last) return;  // block-uniform; ends this logical block only (grid.h)
      __threadfence();
      const float* slots = a.ws + a.layout.slots + bh * a.splits * a.layout.slot_floats;
      mb = -INFINITY;
      lb = 0.0f;
      for (int64_t k = 0; k < a.splits; ++k) mb = fmaxf(mb, __ldcg(slots + k * a.layout.slot_floats));
      for (int64_t k = 0; k < a.splits; ++k) {
        const float mk = __ldcg(slots + k * a.layout.slot_floats), lk = __ldcg(slots + k * a.layout.slot_floats + 1);
        lb += lk * part_weight(mk, lk, mb);
      }
      // A thread rewrites only the vec entries it wrote to its slot itself.
      for (int64_t i = tid; i < c; i += kThreads) {
        float v = 0.0f;
        for (int64_t k = 0; k < a.splits; ++k) {
          const float* sk = slots + k * a.layout.slot_floats;
          v += __ldcg(sk + 2 + i) * part_weight(__ldcg(sk), __ldcg(sk + 1), mb);
        }
        vec[i] = v;
      }
    }
    __syncthreads();  // vec = ubar_h * l (relative to the max mb)
    const float inv = 1.0f / lb;

    // 6. out_h = Wv_h ubar_h + bv_h, a warp per output feature.
    for (int j = warp; j < d; j += kWarps) {
      const T* wrow = a.kv_weight + (c + h * d + j) * c;
      float o = 0.0f;
      for (int64_t i0 = static_cast<int64_t>(lane) * W; i0 < c; i0 += xcit::kWarp * W) {
        float w[W];
        xcit::load_n<T, W>(wrow + i0, w);
        for (int i = 0; i < W; ++i) o = fmaf(w[i], vec[i0 + i], o);
      }
      o = xcit::warp_sum(o) * inv;
      if (lane == 0) {
        a.out[b * c + h * d + j] =
            xcit::from_float<T>(o + (a.kv_bias != nullptr ? xcit::to_float(a.kv_bias[c + h * d + j]) : 0.0f));
      }
    }

    // 7. The attention weights from the scores every split stored.
    if (a.weights != nullptr) {
      T* wh = a.weights + bh * a.rows;
      for (int64_t t = tid; t < a.rows; t += kThreads) wh[t] = xcit::from_float<T>(__expf(__ldcg(scores + t) - mb) * inv);
    }
    if (a.splits > 1 && tid == 0) a.counters[bh] = 0;  // ready for the next call
  });
}

xcit_status check_shape(xcit_ctx* ctx, const char* op, int64_t batch, int64_t rows, int64_t channels,
                        int64_t heads) {
  xcit_status st;
  if ((st = xcit_check_matrix(ctx, op, batch, rows)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * rows, channels)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, 2 * channels, channels)) != XCIT_OK) {
    return st;
  }
  if ((st = xcit_cuda_check_heads(ctx, op, channels, heads, kMaxHeadDim)) != XCIT_OK) return st;
  if (batch > 0 && rows < 1) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: rows = %lld (the softmax needs a row)", op,
                     static_cast<long long>(rows));
  }
  if (channels > kMaxChannels) {
    return xcit_fail(ctx, XCIT_ERR_UNSUPPORTED, "%s: channels = %lld exceeds %d", op,
                     static_cast<long long>(channels), kMaxChannels);
  }
  return XCIT_OK;
}

template <class T, class S>
xcit_status folded_entry(const char* op, xcit_ctx* ctx, S* out, S* weights, void* workspace, const S* q,
                         const S* u, const S* q_weight, const S* q_bias, const S* kv_weight, const S* kv_bias,
                         int64_t batch, int64_t rows, int64_t channels, int64_t heads) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, op, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "workspace", workspace)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "u", u)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "kv_weight", kv_weight)) != XCIT_OK ||
      (st = check_shape(ctx, op, batch, rows, channels, heads)) != XCIT_OK) {
    return st;
  }
  if ((q == nullptr) == (q_weight == nullptr)) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: exactly one of q and q_weight must be given", op);
  }
  if (batch == 0) return XCIT_OK;
  const Layout layout = Layout::of(batch, rows, channels, heads);
  const int64_t splits = splits_for(batch, heads, rows);
  const Args<T> a{reinterpret_cast<T*>(out),
                  reinterpret_cast<T*>(weights),
                  static_cast<float*>(workspace),
                  static_cast<unsigned*>(workspace),
                  reinterpret_cast<const T*>(q),
                  reinterpret_cast<const T*>(u),
                  reinterpret_cast<const T*>(q_weight),
                  reinterpret_cast<const T*>(q_bias),
                  reinterpret_cast<const T*>(kv_weight),
                  reinterpret_cast<const T*>(kv_bias),
                  batch,
                  rows,
                  channels,
                  heads,
                  splits,
                  xcit::ceil_div(rows, splits),
                  static_cast<int>(channels / heads),
                  layout};
  constexpr int V = xcit::kVec<T>;
  // Rows of u, Wq and [Wk; Wv] all C long: vectors where all three start aligned.
  const bool vec = xcit::vector_rows<T>(channels, {u, q_weight, kv_weight});
  const xcit::LaunchGrid g = xcit::launch_grid(splits, heads, batch);
  auto kernel = g.folded ? (vec ? class_attention_folded_kernel<T, true, V> : class_attention_folded_kernel<T, true, 1>)
                         : (vec ? class_attention_folded_kernel<T, false, V> : class_attention_folded_kernel<T, false, 1>);
  return xcit_cuda_launched(ctx, op, xcit_launch(kernel, g.dims, dim3(kThreads), 0, xcit_cuda_stream(ctx), a));
}

}  // namespace

xcit_status xcit_cuda_class_attention_folded_workspace_size(xcit_ctx* ctx, int64_t* bytes, int64_t batch,
                                                            int64_t rows, int64_t channels, int64_t heads) {
  static const char* const op = "xcit_cuda_class_attention_folded_workspace_size";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, op, "bytes", bytes)) != XCIT_OK ||
      (st = check_shape(ctx, op, batch, rows, channels, heads)) != XCIT_OK) {
    return st;
  }
  *bytes = Layout::of(batch, rows, channels, heads).bytes;
  return XCIT_OK;
}

xcit_status xcit_cuda_class_attention_folded_f32(xcit_ctx* ctx, float* out, float* weights, void* workspace,
                                                 const float* q, const float* u, const float* q_weight,
                                                 const float* q_bias, const float* kv_weight,
                                                 const float* kv_bias, int64_t batch, int64_t rows,
                                                 int64_t channels, int64_t heads) {
  return folded_entry<float>("xcit_cuda_class_attention_folded_f32", ctx, out, weights, workspace, q, u,
                             q_weight, q_bias, kv_weight, kv_bias, batch, rows, channels, heads);
}
xcit_status xcit_cuda_class_attention_folded_f16(xcit_ctx* ctx, uint16_t* out, uint16_t* weights,
                                                 void* workspace, const uint16_t* q, const uint16_t* u,
                                                 const uint16_t* q_weight, const uint16_t* q_bias,
                                                 const uint16_t* kv_weight, const uint16_t* kv_bias,
                                                 int64_t batch, int64_t rows, int64_t channels,
                                                 int64_t heads) {
  return folded_entry<xcit::f16>("xcit_cuda_class_attention_folded_f16", ctx, out, weights, workspace, q, u,
                                 q_weight, q_bias, kv_weight, kv_bias, batch, rows, channels, heads);
}
xcit_status xcit_cuda_class_attention_folded_bf16(xcit_ctx* ctx, uint16_t* out, uint16_t* weights,
                                                  void* workspace, const uint16_t* q, const uint16_t* u,
                                                  const uint16_t* q_weight, const uint16_t* q_bias,
                                                  const uint16_t* kv_weight, const uint16_t* kv_bias,
                                                  int64_t batch, int64_t rows, int64_t channels,
                                                  int64_t heads) {
  return folded_entry<xcit::bf16>("xcit_cuda_class_attention_folded_bf16", ctx, out, weights, workspace, q,
                                  u, q_weight, q_bias, kv_weight, kv_bias, batch, rows, channels, heads);
}
