/* Class attention (spec 4, xcit.h) with the k and v projections folded into the cls query
 * and the output. Only the cls row queries, so per image and head h (rows h*d .. h*d+d-1
 * of the k and v weights Wk, Wv; scale = d^-1/2):
 *   score[h, t] = scale q_h . (Wk_h u_t + bk_h) = u_t . K'_h + c_h,
 *       K'_h = scale sum_j q[h*d+j] Wk[h*d+j, :],  c_h = scale q_h . bk_h
 *   out[h*d+j]  = sum_t a[h, t] (Wv[h*d+j] . u_t + bv[h*d+j]) = Wv[h*d+j] . ubar_h + bv[h*d+j],
 *       ubar_h = sum_t a[h, t] u_t (the weights of a head sum to 1)
 * so the O(T C^2) projections of all T rows become O(T C heads) passes over u plus O(C^2)
 * per image, and no (T, 2C) k/v buffer exists. The steps, shared by the one-shot entry and
 * the streamed stage (which runs the two passes chunk by chunk):
 *   class_attention_fold_query:    keys (heads, C + 1) = [K'_h, c_h]
 *   class_attention_folded_scores: scores[h, t] = u_t . K'_h + c_h (c_h kept, so the
 *                                  scores are the unfolded ones, not shifted)
 *   (softmax_rows over all T)
 *   class_attention_folded_sum:    ubar (heads, C) (+)= sum_t a[h, t] u_t
 *   class_attention_folded_out:    out (C) = per head Wv_h ubar_h + bv_h
 * All float32. Sums over rows go through per-thread partials added in thread order, so the
 * result does not depend on scheduling. */
#if defined(XCIT_ISA)
#include <math.h>

#include "cpu/simd.h"

static inline float dot(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void XCIT_KFN(class_attention_fold_query)(float* keys, const float* q, const float* kw,
                                          const float* kb, int64_t channels, int64_t heads,
                                          int threads) {
  const int64_t c = channels, d = c / heads;
  const float scale = 1.0f / sqrtf((float)d);
#pragma omp parallel for num_threads(threads) schedule(static) if (c * c >= 65536)
  for (int64_t h = 0; h < heads; ++h) {
    float* kh = keys + h * (c + 1);
    memset(kh, 0, (size_t)c * sizeof(float));
    float bias = 0.0f;
    for (int64_t j = 0; j < d; ++j) {
      const float a = scale * q[h * d + j];
      const float* row = kw + (h * d + j) * c;
#pragma omp simd
      for (int64_t i = 0; i < c; ++i) kh[i] += a * row[i];
      if (kb != NULL) bias += a * kb[h * d + j];
    }
    kh[c] = bias;
  }
}

/* Dots of one row u (C) with 4 key rows at once: 4 independent accumulators instead of one
 * latency-bound chain, and u loaded once for all 4. */
static inline void dot4(float out[4], const float* u, const float* k0, const float* k1,
                        const float* k2, const float* k3, int64_t n) {
  vf a0 = vset1(0.0f), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + VLEN <= n; i += VLEN) {
    const vf x = vload(u + i);
    a0 += x * vload(k0 + i);
    a1 += x * vload(k1 + i);
    a2 += x * vload(k2 + i);
    a3 += x * vload(k3 + i);
  }
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
  for (int l = 0; l < VLEN; ++l) {
    s0 += a0[l];
    s1 += a1[l];
    s2 += a2[l];
    s3 += a3[l];
  }
  for (; i < n; ++i) {
    s0 += u[i] * k0[i];
    s1 += u[i] * k1[i];
    s2 += u[i] * k2[i];
    s3 += u[i] * k3[i];
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

void XCIT_KFN(class_attention_folded_scores)(float* scores, const float* keys, const float* u,
                                             int64_t rows, int64_t channels, int64_t heads,
                                             int64_t stride, int threads) {
  const int64_t c = channels, kstride = c + 1;
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * c * heads >= 65536)
  for (int64_t t = 0; t < rows; ++t) {
    const float* ut = u + t * c;
    for (int64_t h0 = 0; h0 < heads; h0 += 4) {
      /* A last group of fewer than 4 heads repeats its last head; the extra dots are dropped. */
      const float* k[4];
      for (int g = 0; g < 4; ++g) k[g] = keys + (h0 + g < heads ? h0 + g : heads - 1) * kstride;
      float s[4];
      dot4(s, ut, k[0], k[1], k[2], k[3], c);
      for (int g = 0; g < 4 && h0 + g < heads; ++g) scores[(h0 + g) * stride + t] = s[g] + k[g][c];
    }
  }
}

void XCIT_KFN(class_attention_folded_sum)(float* ubar, const float* weights, const float* u,
                                          int64_t rows, int64_t channels, int64_t heads,
                                          int64_t stride, int32_t accumulate, float* scratch,
                                          int threads) {
  const int64_t c = channels, hc = heads * c, slice = xcit_pad(hc);
  const int team = rows * hc >= 65536 ? threads : 1;
#pragma omp parallel num_threads(team)
  {
    const int tid = xcit_tid(), n = team > 1 ? omp_get_num_threads() : 1;
    float* acc = scratch + (int64_t)tid * slice;
    memset(acc, 0, (size_t)hc * sizeof(float));
    const int64_t t0 = rows * tid / n, t1 = rows * (tid + 1) / n;
    for (int64_t t = t0; t < t1; ++t) {
      const float* ut = u + t * c;
      for (int64_t h = 0; h < heads; ++h) {
        const float a = weights[h * stride + t];
        float* ah = acc + h * c;
#pragma omp simd
        for (int64_t i = 0; i < c; ++i) ah[i] += a * ut[i];
      }
    }
#pragma omp barrier
#pragma omp for schedule(static)
    for (int64_t i = 0; i < hc; ++i) {
      float s = accumulate ? ubar[i] : 0.0f;
      for (int p = 0; p < n; ++p) s += scratch[(int64_t)p * slice + i];
      ubar[i] = s;
    }
  }
}

void XCIT_KFN(class_attention_folded_out)(float* out, const float* ubar, const float* vw,
                                          const float* vb, int64_t channels, int64_t heads,
                                          int threads) {
  const int64_t c = channels, d = c / heads;
#pragma omp parallel for num_threads(threads) schedule(static) if (c * c >= 65536)
  for (int64_t r = 0; r < c; ++r) {
    out[r] = dot(vw + r * c, ubar + (r / d) * c, c) + (vb != NULL ? vb[r] : 0.0f);
  }
}

#else
#include "cpu/runtime.h"

static xcit_status check_heads(xcit_ctx* ctx, const char* op, int64_t channels, int64_t heads) {
  return xcit_require(ctx, heads >= 1 && channels % heads == 0, op,
                      "heads must be >= 1 and divide channels");
}

static xcit_status check_stride(xcit_ctx* ctx, const char* op, int64_t rows, int64_t stride) {
  return xcit_require(ctx, stride >= rows, op, "stride must be >= rows");
}

/* Floats of the per-thread partial sums of class_attention_folded_sum. */
static int64_t sum_scratch(int threads, int64_t channels, int64_t heads) {
  return (int64_t)threads * xcit_pad(heads * channels);
}

xcit_status xcit_cpu_class_attention_folded_f32(xcit_ctx* ctx, float* out, float* weights,
                                                const float* q, const float* u,
                                                const float* kv_weight, const float* kv_bias,
                                                int64_t batch, int64_t rows, int64_t channels,
                                                int64_t heads) {
  static const char* const OP = "xcit_cpu_class_attention_folded_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "q", q)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "u", u)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "kv_weight", kv_weight)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, batch, rows, channels, heads)) != XCIT_OK ||
      (st = check_heads(ctx, OP, channels, heads)) != XCIT_OK ||
      (st = xcit_require(ctx, rows >= 1 || batch == 0, OP, "rows must be >= 1")) != XCIT_OK) {
    return st;
  }
  if (batch == 0 || channels == 0) return XCIT_OK;
  const int threads = xcit_cpu_threads_of(ctx);
  const int64_t c = channels, keys_n = xcit_pad(heads * (c + 1)), ubar_n = xcit_pad(heads * c);
  const int64_t scores_n = weights != NULL ? 0 : xcit_pad(heads * rows);
  const int64_t floats = keys_n + ubar_n + scores_n + sum_scratch(threads, c, heads);
  float* scratch = xcit_cpu_scratch(ctx, OP, floats * (int64_t)sizeof(float));
  if (scratch == NULL) return XCIT_ERR_OUT_OF_MEMORY;
  float *keys = scratch, *ubar = keys + keys_n, *own_scores = ubar + ubar_n;
  float* partials = own_scores + scores_n;
  /* Wk, bk: rows [0, C) of the kv Linear; Wv, bv: rows [C, 2C). */
  const float *k_weight = kv_weight, *v_weight = kv_weight + c * c;
  const float *k_bias = kv_bias, *v_bias = kv_bias != NULL ? kv_bias + c : NULL;
  const struct xcit_cpu_kernels* k = xcit_cpu_k(ctx);
  for (int64_t b = 0; b < batch; ++b) {
    const float* ub = u + b * rows * c;
    float* scores = weights != NULL ? weights + b * heads * rows : own_scores;
    k->class_attention_fold_query(keys, q + b * c, k_weight, k_bias, c, heads, threads);
    k->class_attention_folded_scores(scores, keys, ub, rows, c, heads, rows, threads);
    k->softmax_rows(scores, heads, rows, threads);
    k->class_attention_folded_sum(ubar, scores, ub, rows, c, heads, rows, 0, partials, threads);
    k->class_attention_folded_out(out + b * c, ubar, v_weight, v_bias, c, heads, threads);
  }
  return XCIT_OK;
}

xcit_status xcit_cpu_class_attention_fold_query_f32(xcit_ctx* ctx, float* keys, const float* q,
                                                    const float* k_weight, const float* k_bias,
                                                    int64_t channels, int64_t heads) {
  static const char* const OP = "xcit_cpu_class_attention_fold_query_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "keys", keys)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "q", q)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "k_weight", k_weight)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, channels, heads)) != XCIT_OK ||
      (st = check_heads(ctx, OP, channels, heads)) != XCIT_OK) {
    return st;
  }
  xcit_cpu_k(ctx)->class_attention_fold_query(keys, q, k_weight, k_bias, channels, heads,
                                              xcit_cpu_threads_of(ctx));
  return XCIT_OK;
}

xcit_status xcit_cpu_class_attention_folded_scores_f32(xcit_ctx* ctx, float* scores,
                                                       const float* keys, const float* u,
                                                       int64_t rows, int64_t channels,
                                                       int64_t heads, int64_t stride) {
  static const char* const OP = "xcit_cpu_class_attention_folded_scores_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "scores", scores)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "keys", keys)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "u", u)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, rows, channels, heads, stride)) != XCIT_OK ||
      (st = xcit_require(ctx, heads >= 1, OP, "heads must be >= 1")) != XCIT_OK ||
      (st = check_stride(ctx, OP, rows, stride)) != XCIT_OK) {
    return st;
  }
  if (rows == 0) return XCIT_OK;
  xcit_cpu_k(ctx)->class_attention_folded_scores(scores, keys, u, rows, channels, heads, stride,
                                                 xcit_cpu_threads_of(ctx));
  return XCIT_OK;
}

xcit_status xcit_cpu_class_attention_folded_sum_f32(xcit_ctx* ctx, float* ubar,
                                                    const float* weights, const float* u,
                                                    int64_t rows, int64_t channels, int64_t heads,
                                                    int64_t stride, int32_t accumulate) {
  static const char* const OP = "xcit_cpu_class_attention_folded_sum_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "ubar", ubar)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "weights", weights)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "u", u)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, rows, channels, heads, stride)) != XCIT_OK ||
      (st = xcit_require(ctx, heads >= 1, OP, "heads must be >= 1")) != XCIT_OK ||
      (st = check_stride(ctx, OP, rows, stride)) != XCIT_OK) {
    return st;
  }
  if (channels == 0) return XCIT_OK;
  const int threads = xcit_cpu_threads_of(ctx);
  const int64_t bytes = sum_scratch(threads, channels, heads) * (int64_t)sizeof(float);
  float* scratch = xcit_cpu_scratch(ctx, OP, bytes);
  if (scratch == NULL) return XCIT_ERR_OUT_OF_MEMORY;
  xcit_cpu_k(ctx)->class_attention_folded_sum(ubar, weights, u, rows, channels, heads, stride,
                                              accumulate != 0, scratch, threads);
  return XCIT_OK;
}

xcit_status xcit_cpu_class_attention_folded_out_f32(xcit_ctx* ctx, float* out, const float* ubar,
                                                    const float* v_weight, const float* v_bias,
                                                    int64_t channels, int64_t heads) {
  static const char* const OP = "xcit_cpu_class_attention_folded_out_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "ubar", ubar)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "v_weight", v_weight)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, channels, heads)) != XCIT_OK ||
      (st = check_heads(ctx, OP, channels, heads)) != XCIT_OK) {
    return st;
  }
  xcit_cpu_k(ctx)->class_attention_folded_out(out, ubar, v_weight, v_bias, channels, heads,
                                              xcit_cpu_threads_of(ctx));
  return XCIT_OK;
}
#endif
