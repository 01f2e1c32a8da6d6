/* LayerNorm over the last dimension, fp32 storage, double statistics (xcit.h), and its
 * fused form with the residual update before it (xcit_cpu_add_layernorm_f32).
 * Compiled once per ISA for the kernels (XCIT_ISA set) and once for the entry points. */
#if defined(XCIT_ISA)
#include <math.h>

#include "cpu/simd.h"

/*
 * One row. Two passes in double: the mean first, then the sum of squared deviations
 * from it, which avoids the cancellation of E[x^2] - E[x]^2 that tokens with a large
 * common offset would suffer. The affine step is also done in double and rounded once,
 * so the result is within 1 ulp of the exact value. The reductions vectorise (the order
 * of a double sum of a few thousand floats does not matter at float precision).
 * out may equal in: both reductions finish before the first write.
 */
static inline void layernorm_row(float* out, const float* in, const float* gamma,
                                 const float* beta, int64_t cols, float eps) {
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int64_t c = 0; c < cols; ++c) sum += in[c];
  const double mean = sum / (double)cols;
  double squares = 0.0;
#pragma omp simd reduction(+ : squares)
  for (int64_t c = 0; c < cols; ++c) {
    const double d = (double)in[c] - mean;
    squares += d * d;
  }
  const double rstd = 1.0 / sqrt(squares / (double)cols + (double)eps);
#pragma omp simd
  for (int64_t c = 0; c < cols; ++c) {
    out[c] = (float)(((double)in[c] - mean) * rstd * gamma[c] + beta[c]);
  }
}

/* Fork a team only when the work pays for it (~10 us of rows). */
#define LN_PARALLEL_MIN 16384

void XCIT_KFN(layernorm)(float* out, const float* in, const float* gamma, const float* beta,
                         int64_t rows, int64_t cols, float eps, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * cols >= LN_PARALLEL_MIN)
  for (int64_t r = 0; r < rows; ++r) {
    layernorm_row(out + r * cols, in + r * cols, gamma, beta, cols, eps);
  }
}

void XCIT_KFN(layernorm_to_bf16)(uint16_t* out, const float* in, const float* gamma,
                                 const float* beta, int64_t rows, int64_t cols, float eps,
                                 float* scratch, int threads) {
  /* Each row is normalised into the thread's float row of scratch, then rounded once more,
   * so the bits equal layernorm followed by to_bf16. */
#pragma omp parallel num_threads(threads) if (rows * cols >= LN_PARALLEL_MIN)
  {
    float* row = scratch + (int64_t)xcit_tid() * xcit_pad(cols);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      layernorm_row(row, in + r * cols, gamma, beta, cols, eps);
      uint16_t* o = out + r * cols;
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) o[c] = bf16_bits(row[c]);
    }
  }
}

void XCIT_KFN(add_layernorm)(float* x, float* out, const float* y, const float* scale,
                             const float* gamma, const float* beta, int64_t rows, int64_t cols,
                             float eps, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * cols >= LN_PARALLEL_MIN)
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * cols;
    const float* yr = y + r * cols;
    if (scale != NULL) {
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) xr[c] += scale[c] * yr[c];
    } else {
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) xr[c] += yr[c];
    }
    layernorm_row(out + r * cols, xr, gamma, beta, cols, eps);
  }
}

#else /* entry points */
#include "cpu/runtime.h"

static xcit_status check_common(xcit_ctx* ctx, const char* op, const float* out,
                                const float* in, const float* gamma, const float* beta,
                                int64_t rows, int64_t cols, float eps) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "in", in)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "gamma", gamma)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "beta", beta)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, rows, cols)) != XCIT_OK ||
      (st = xcit_check_eps(ctx, op, eps)) != XCIT_OK) {
    return st;
  }
  return XCIT_OK;
}

xcit_status xcit_cpu_layernorm_f32(xcit_ctx* ctx, float* out, const float* in,
                                   const float* gamma, const float* beta, int64_t rows,
                                   int64_t cols, float eps) {
  const xcit_status st =
      check_common(ctx, "xcit_cpu_layernorm_f32", out, in, gamma, beta, rows, cols, eps);
  if (st != XCIT_OK) return st;
  xcit_cpu_k(ctx)->layernorm(out, in, gamma, beta, rows, cols, eps, xcit_cpu_threads_of(ctx));
  return XCIT_OK;
}

xcit_status xcit_cpu_layernorm_to_bf16(xcit_ctx* ctx, uint16_t* out, const float* in,
                                       const float* gamma, const float* beta, int64_t rows,
                                       int64_t cols, float eps) {
  static const char* const OP = "xcit_cpu_layernorm_to_bf16";
  xcit_status st = check_common(ctx, OP, (const float*)out, in, gamma, beta, rows, cols, eps);
  if (st != XCIT_OK) return st;
  const int threads = xcit_cpu_threads_of(ctx);
  float* scratch = xcit_cpu_scratch(ctx, OP, (int64_t)threads * xcit_pad(cols) * (int64_t)sizeof(float));
  if (scratch == NULL) return XCIT_ERR_OUT_OF_MEMORY;
  xcit_cpu_k(ctx)->layernorm_to_bf16(out, in, gamma, beta, rows, cols, eps, scratch, threads);
  return XCIT_OK;
}

xcit_status xcit_cpu_add_layernorm_f32(xcit_ctx* ctx, float* x, float* out, const float* y,
                                       const float* scale, const float* gamma,
                                       const float* beta, int64_t rows, int64_t cols,
                                       float eps) {
  static const char* const OP = "xcit_cpu_add_layernorm_f32";
  xcit_status st = check_common(ctx, OP, out, x, gamma, beta, rows, cols, eps);
  if (st != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "y", y)) != XCIT_OK ||
      (st = xcit_require(ctx, out != x && out != y, OP, "out must not alias x or y")) != XCIT_OK) {
    return st;
  }
  xcit_cpu_k(ctx)->add_layernorm(x, out, y, scale, gamma, beta, rows, cols, eps,
                                 xcit_cpu_threads_of(ctx));
  return XCIT_OK;
}
#endif
