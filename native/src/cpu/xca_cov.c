/* The covariance-folded path of XCA (spec 3, xcit.h), for many tokens: every Gram entry
 * and norm follows from the C x C statistics S = u^T u and m = sum_n u_n of the LN output
 * u, and the attention application plus the v and proj Linears fold into one C x C
 * matrix per image. The O(N C^2) products (S itself, the folded Linear) and the O(C^3)
 * ones run as GEMMs in the caller; these kernels are the O(C^2 d) glue between them:
 *   column_sums:     m = sum_n u_n
 *   xca_cov_attention: A_h from T = Wqk S (Wqk = rows [0, 2C) of the qkv weight)
 *   xca_cov_mix:     M = blockdiag(A) Wv, vb = blockdiag(A) bv (Wv = rows [2C, 3C))
 *   xca_cov_finish:  W' = gamma * P (P = Wproj M), b' = gamma * (Wproj vb + bproj)
 * All float32; the norms come out as differences of large terms only when the biases
 * dominate the tokens, which LN outputs do not (tests compare with the direct path). */
#if defined(XCIT_ISA)
#include <math.h>

#include "cpu/simd.h"

void XCIT_KFN(column_sums)(float* out, const float* in, int64_t rows, int64_t cols,
                           float* scratch, int threads) {
  /* Each thread sums a band of rows into its own slice of scratch, then the slices add. */
#pragma omp parallel num_threads(threads) if (rows * cols >= 65536)
  {
    const int nt = omp_get_num_threads(), tid = xcit_tid();
    float* part = scratch + (int64_t)tid * cols;
    memset(part, 0, (size_t)cols * sizeof(float));
    const int64_t per = (rows + nt - 1) / nt, r0 = tid * per, r1 = r0 + per < rows ? r0 + per : rows;
    for (int64_t r = r0; r < r1; ++r) {
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) part[c] += in[r * cols + c];
    }
#pragma omp barrier
#pragma omp single
    {
      for (int64_t c = 0; c < cols; ++c) {
        float s = 0.0f;
        for (int t = 0; t < nt; ++t) s += scratch[(int64_t)t * cols + c];
        out[c] = s;
      }
    }
  }
}

static inline float dot(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void XCIT_KFN(xca_cov_attention)(float* attn, const float* t, const float* wqk, const float* bqk,
                                 const float* colsum, int64_t tokens, const float* temperature,
                                 int64_t channels, int64_t heads, float* scratch, int threads) {
  const int64_t c = channels, d = c / heads;
  const float n = (float)tokens;
  float* wm = scratch; /* (2C): Wqk m */
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static)
    for (int64_t r = 0; r < 2 * c; ++r) wm[r] = dot(wqk + r * c, colsum, c);
    /* implicit barrier */
#pragma omp for schedule(dynamic, 1)
    for (int64_t h = 0; h < heads; ++h) {
      float* a = attn + h * d * d;
      float* kn = scratch + 2 * c + h * d; /* (C) after wm: |k_j| per head */
      for (int64_t j = 0; j < d; ++j) {
        const int64_t kj = c + h * d + j;
        const float sq = dot(wqk + kj * c, t + kj * c, c) + 2.0f * bqk[kj] * wm[kj] + n * bqk[kj] * bqk[kj];
        kn[j] = fmaxf(sqrtf(fmaxf(sq, 0.0f)), 1e-12f);
      }
      for (int64_t i = 0; i < d; ++i) {
        const int64_t qi = h * d + i;
        const float sq = dot(wqk + qi * c, t + qi * c, c) + 2.0f * bqk[qi] * wm[qi] + n * bqk[qi] * bqk[qi];
        const float qn = fmaxf(sqrtf(fmaxf(sq, 0.0f)), 1e-12f);
        float* row = a + i * d;
        float max = -INFINITY;
        for (int64_t j = 0; j < d; ++j) {
          const int64_t kj = c + h * d + j;
          /* <q_i, k_j> = Wq_i S Wk_j^T + (Wq_i m) bk_j + bq_i (Wk_j m) + N bq_i bk_j,
           * with T = Wqk S holding S Wk_j^T in row kj (S is symmetric). */
          const float g = dot(wqk + qi * c, t + kj * c, c) + wm[qi] * bqk[kj] + bqk[qi] * wm[kj] +
                          n * bqk[qi] * bqk[kj];
          row[j] = temperature[h] * (g / (qn * kn[j]));
          max = fmaxf(max, row[j]);
        }
        float sum = 0.0f;
        for (int64_t j = 0; j < d; ++j) sum += row[j] = expf(row[j] - max);
        for (int64_t j = 0; j < d; ++j) row[j] /= sum;
      }
    }
  }
}

void XCIT_KFN(xca_cov_mix)(float* mixed, float* vb, const float* attn, const float* wqkv,
                           const float* bqkv, int64_t channels, int64_t heads, int threads) {
  const int64_t c = channels, d = c / heads;
  const float* wv = wqkv + 2 * c * c;
  const float* bv = bqkv + 2 * c;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < c; ++r) {
    const int64_t h = r / d, i = r % d;
    const float* a = attn + (h * d + i) * d;
    float* dst = mixed + r * c;
    memset(dst, 0, (size_t)c * sizeof(float));
    float b = 0.0f;
    for (int64_t j = 0; j < d; ++j) {
      const float* src = wv + (h * d + j) * c;
      const float aij = a[j];
#pragma omp simd
      for (int64_t k = 0; k < c; ++k) dst[k] += aij * src[k];
      b += aij * bv[h * d + j];
    }
    vb[r] = b;
  }
}

void XCIT_KFN(xca_cov_finish)(float* wfold, float* bfold, const float* p, const float* wproj,
                              const float* bproj, const float* vb, const float* gamma,
                              int64_t channels, int threads) {
  const int64_t c = channels;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < c; ++r) {
    const float g = gamma != NULL ? gamma[r] : 1.0f;
#pragma omp simd
    for (int64_t k = 0; k < c; ++k) wfold[r * c + k] = g * p[r * c + k];
    bfold[r] = g * (dot(wproj + r * c, vb, c) + bproj[r]);
  }
}

#else
#include "cpu/runtime.h"

#define CHECK_PTRS(...)                                                    \
  do {                                                                     \
    const void* ptrs_[] = {__VA_ARGS__};                                   \
    const char* names_ = #__VA_ARGS__;                                     \
    for (size_t i_ = 0; i_ < sizeof ptrs_ / sizeof ptrs_[0]; ++i_) {       \
      if (ptrs_[i_] == NULL) {                                             \
        return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT,                   \
                         "%s: pointer %zu of (%s) is NULL", OP, i_, names_); \
      }                                                                    \
    }                                                                      \
  } while (0)

static xcit_status check_heads(xcit_ctx* ctx, const char* op, int64_t channels, int64_t heads) {
  return xcit_require(ctx, channels >= 1 && heads >= 1 && channels % heads == 0, op,
                      "channels must be >= 1 and divisible by heads >= 1");
}

xcit_status xcit_cpu_column_sums_f32(xcit_ctx* ctx, float* out, const float* in, int64_t rows,
                                     int64_t cols) {
  static const char* const OP = "xcit_cpu_column_sums_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK) return st;
  CHECK_PTRS(out, in);
  if ((st = xcit_check_matrix(ctx, OP, rows, cols)) != XCIT_OK) return st;
  const int threads = xcit_cpu_threads_of(ctx);
  float* scratch = xcit_cpu_scratch(ctx, OP, (int64_t)threads * cols * (int64_t)sizeof(float));
  if (scratch == NULL) return XCIT_ERR_OUT_OF_MEMORY;
  xcit_cpu_k(ctx)->column_sums(out, in, rows, cols, scratch, threads);
  return XCIT_OK;
}

xcit_status xcit_cpu_xca_cov_attention_f32(xcit_ctx* ctx, float* attn, const float* t,
                                           const float* wqk, const float* bqk,
                                           const float* colsum, const float* temperature,
                                           int64_t tokens, int64_t channels, int64_t heads) {
  static const char* const OP = "xcit_cpu_xca_cov_attention_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK) return st;
  CHECK_PTRS(attn, t, wqk, bqk, colsum, temperature);
  if ((st = XCIT_CHECK_DIMS(ctx, OP, tokens, 2 * channels, channels)) != XCIT_OK ||
      (st = check_heads(ctx, OP, channels, heads)) != XCIT_OK) {
    return st;
  }
  const int threads = xcit_cpu_threads_of(ctx);
  float* scratch = xcit_cpu_scratch(ctx, OP, 3 * channels * (int64_t)sizeof(float));
  if (scratch == NULL) return XCIT_ERR_OUT_OF_MEMORY;
  xcit_cpu_k(ctx)->xca_cov_attention(attn, t, wqk, bqk, colsum, tokens, temperature, channels,
                                     heads, scratch, threads);
  return XCIT_OK;
}

xcit_status xcit_cpu_xca_cov_mix_f32(xcit_ctx* ctx, float* mixed, float* vb, const float* attn,
                                     const float* wqkv, const float* bqkv, int64_t channels,
                                     int64_t heads) {
  static const char* const OP = "xcit_cpu_xca_cov_mix_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK) return st;
  CHECK_PTRS(mixed, vb, attn, wqkv, bqkv);
  if ((st = XCIT_CHECK_DIMS(ctx, OP, channels, channels)) != XCIT_OK ||
      (st = check_heads(ctx, OP, channels, heads)) != XCIT_OK) {
    return st;
  }
  xcit_cpu_k(ctx)->xca_cov_mix(mixed, vb, attn, wqkv, bqkv, channels, heads, xcit_cpu_threads_of(ctx));
  return XCIT_OK;
}

xcit_status xcit_cpu_xca_cov_finish_f32(xcit_ctx* ctx, float* wfold, float* bfold, const float* p,
                                        const float* wproj, const float* bproj, const float* vb,
                                        const float* gamma, int64_t channels) {
  static const char* const OP = "xcit_cpu_xca_cov_finish_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK) return st;
  CHECK_PTRS(wfold, bfold, p, wproj, bproj, vb);
  if ((st = XCIT_CHECK_DIMS(ctx, OP, channels, channels)) != XCIT_OK) return st;
  xcit_cpu_k(ctx)->xca_cov_finish(wfold, bfold, p, wproj, bproj, vb, gamma, channels,
                                  xcit_cpu_threads_of(ctx));
  return XCIT_OK;
}
#endif
