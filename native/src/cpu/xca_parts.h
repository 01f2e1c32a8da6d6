/* Internal: the pieces of XCA shared by the fused kernel (xca.c) and the streamed ops
 * (xca_gram.c, xca_softmax.c), so that both compute the Gram matrix and the softmax the
 * same way. Per-ISA: include after cpu/simd.h. */
#ifndef XCIT_CPU_XCA_PARTS_H
#define XCIT_CPU_XCA_PARTS_H

#include <math.h>

#include "cpu/simd.h"

#define XCA_CHUNK 64 /* tokens whose q and k rows are copied (zero-padded) per step */
#define TILE_R 4     /* Gram rows per register tile */

/* acc (R x JV vectors) = sum over the chunk's tokens of q[t][i0+r] * k[t][j0..]; added to
 * G[i0+r][j0..]. */
static inline __attribute__((always_inline)) void gram_tile(float* g, const float* qc,
                                                            const float* kc, int64_t tokens,
                                                            int64_t dp, int64_t i0, int64_t j0,
                                                            int R, int JV) {
  vf acc[TILE_R][4];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < JV; ++v) acc[r][v] = vset1(0.0f);
  for (int64_t t = 0; t < tokens; ++t) {
    vf kv[4];
    for (int v = 0; v < JV; ++v) kv[v] = vload(kc + t * dp + j0 + v * VLEN);
    for (int r = 0; r < R; ++r) {
      const vf qv = vset1(qc[t * dp + i0 + r]);
      for (int v = 0; v < JV; ++v) acc[r][v] += qv * kv[v];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < JV; ++v) {
      float* dst = g + (i0 + r) * dp + j0 + v * VLEN;
      vstore(dst, vload(dst) + acc[r][v]);
    }
}

static inline __attribute__((always_inline)) void gram_rows(float* g, const float* qc,
                                                            const float* kc, int64_t tokens,
                                                            int64_t dp, int64_t i0, int R) {
  int64_t j0 = 0;
  for (; j0 + 4 * VLEN <= dp; j0 += 4 * VLEN) gram_tile(g, qc, kc, tokens, dp, i0, j0, R, 4);
  switch ((dp - j0) / VLEN) {
    case 3: gram_tile(g, qc, kc, tokens, dp, i0, j0, R, 3); break;
    case 2: gram_tile(g, qc, kc, tokens, dp, i0, j0, R, 2); break;
    case 1: gram_tile(g, qc, kc, tokens, dp, i0, j0, R, 1); break;
    default: break;
  }
}

/* Floats of the Gram pass's scratch for head dimension d: g (d, dp), qn, kn, and this
 * chunk's sums of both (dp each), the chunk's q and k rows (XCA_CHUNK, dp each). */
static inline int64_t xca_gram_scratch_floats(int64_t d) {
  const int64_t dp = xcit_pad(d);
  return d * dp + 4 * dp + 2 * XCA_CHUNK * dp;
}

/* One head's pass over `tokens` rows: q row t at q0 + t * stride, k row t at k0 + t * stride
 * (d channels each). Adds the raw Gram G = q^T k to g (d, dp) and the squared channel
 * norms to qn, kn (dp), float32 with per-chunk partial sums. qc and kc (XCA_CHUNK, dp)
 * must hold zeros in their padding columns (d..dp) on entry, and keep them. */
static inline void xca_gram_pass(float* g, float* qn, float* kn, float* qn_chunk, float* kn_chunk,
                                 float* qc, float* kc, const float* q0, const float* k0,
                                 int64_t stride, int64_t tokens, int64_t d) {
  const int64_t dp = xcit_pad(d);
  for (int64_t t0 = 0; t0 < tokens; t0 += XCA_CHUNK) {
    const int64_t n = tokens - t0 < XCA_CHUNK ? tokens - t0 : XCA_CHUNK;
    for (int64_t t = 0; t < n; ++t) {
      memcpy(qc + t * dp, q0 + (t0 + t) * stride, (size_t)d * sizeof(float));
      memcpy(kc + t * dp, k0 + (t0 + t) * stride, (size_t)d * sizeof(float));
    }
    memset(qn_chunk, 0, (size_t)dp * sizeof(float));
    memset(kn_chunk, 0, (size_t)dp * sizeof(float));
    for (int64_t t = 0; t < n; ++t) {
#pragma omp simd
      for (int64_t i = 0; i < dp; ++i) {
        qn_chunk[i] += qc[t * dp + i] * qc[t * dp + i];
        kn_chunk[i] += kc[t * dp + i] * kc[t * dp + i];
      }
    }
#pragma omp simd
    for (int64_t i = 0; i < dp; ++i) {
      qn[i] += qn_chunk[i];
      kn[i] += kn_chunk[i];
    }
    int64_t i0 = 0;
    for (; i0 + TILE_R <= d; i0 += TILE_R) gram_rows(g, qc, kc, n, dp, i0, TILE_R);
    for (; i0 < d; ++i0) gram_rows(g, qc, kc, n, dp, i0, 1);
    /* a short last chunk leaves stale rows beyond n, which are never read */
  }
}

/* Row i of one head's attention: out[j * sj] = softmax_j(tau G_ij / (|q_i| |k_j|)) for
 * j < d, from the raw Gram row g_row (d), the squared norms qn_i and kn (d), with norms
 * clamped at 1e-12. tmp (d floats) may alias g_row. */
static inline void xca_softmax_row(float* out, int64_t sj, const float* g_row, float* tmp,
                                   float qn_i, const float* kn, float tau, int64_t d) {
  const float qi = fmaxf(sqrtf(qn_i), 1e-12f);
  float max = -INFINITY;
  for (int64_t j = 0; j < d; ++j) {
    tmp[j] = tau * (g_row[j] / (qi * fmaxf(sqrtf(kn[j]), 1e-12f)));
    max = fmaxf(max, tmp[j]);
  }
  float sum = 0.0f;
  for (int64_t j = 0; j < d; ++j) sum += tmp[j] = expf(tmp[j] - max);
  for (int64_t j = 0; j < d; ++j) out[j * sj] = tmp[j] / sum;
}

#define TILE_T 4 /* tokens per register tile in the application */

/* out[t][i0..] for T tokens = sum_j v[t][j] * at[j][i0..] (IV vectors); the last vector
 * of a row may be partial (i < d), stored through a temporary so that the next head's
 * channels, owned by another thread, are never written. */
static inline __attribute__((always_inline)) void apply_tile(float* out, int64_t out_stride,
                                                             const float* v, int64_t v_stride,
                                                             const float* at, int64_t d,
                                                             int64_t dp, int64_t i0, int T,
                                                             int IV) {
  vf acc[TILE_T][4];
  for (int t = 0; t < T; ++t)
    for (int w = 0; w < IV; ++w) acc[t][w] = vset1(0.0f);
  for (int64_t j = 0; j < d; ++j) {
    vf a[4];
    for (int w = 0; w < IV; ++w) a[w] = vload(at + j * dp + i0 + w * VLEN);
    for (int t = 0; t < T; ++t) {
      const vf vv = vset1(v[t * v_stride + j]);
      for (int w = 0; w < IV; ++w) acc[t][w] += vv * a[w];
    }
  }
  for (int t = 0; t < T; ++t)
    for (int w = 0; w < IV; ++w) {
      const int64_t i = i0 + w * VLEN;
      float* dst = out + t * out_stride + i;
      if (i + VLEN <= d) {
        vstore(dst, acc[t][w]);
      } else {
        float tmp[VLEN];
        vstore(tmp, acc[t][w]);
        for (int64_t l = 0; i + l < d; ++l) dst[l] = tmp[l];
      }
    }
}

static inline __attribute__((always_inline)) void apply_tokens(float* out, int64_t out_stride,
                                                               const float* v, int64_t v_stride,
                                                               const float* at, int64_t d,
                                                               int64_t dp, int T) {
  int64_t i0 = 0;
  for (; i0 + 4 * VLEN <= dp; i0 += 4 * VLEN) apply_tile(out, out_stride, v, v_stride, at, d, dp, i0, T, 4);
  switch ((dp - i0) / VLEN) {
    case 3: apply_tile(out, out_stride, v, v_stride, at, d, dp, i0, T, 3); break;
    case 2: apply_tile(out, out_stride, v, v_stride, at, d, dp, i0, T, 2); break;
    case 1: apply_tile(out, out_stride, v, v_stride, at, d, dp, i0, T, 1); break;
    default: break;
  }
}

#endif /* XCIT_CPU_XCA_PARTS_H */
