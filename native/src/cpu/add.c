/* Residual additions (xcit.h): x += scale * y with a per-channel scale, and x += a block
 * repeated over a batch. Memory-bound, so plain vectorised loops split over rows. */
#if defined(XCIT_ISA)
#include "cpu/simd.h"

#define ADD_PARALLEL_MIN 32768

void XCIT_KFN(add_scaled)(float* x, const float* y, const float* scale, int64_t rows,
                          int64_t cols, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * cols >= ADD_PARALLEL_MIN)
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
  }
}

void XCIT_KFN(add_broadcast)(float* x, const float* rows, int64_t total, int64_t period,
                             int threads) {
  const int64_t blocks = period == 0 ? 0 : total / period;
  /* Split each block in chunks so one image still uses every thread. */
  const int64_t chunk = 16384, chunks = (period + chunk - 1) / chunk;
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static) if (total >= ADD_PARALLEL_MIN)
  for (int64_t b = 0; b < blocks; ++b) {
    for (int64_t k = 0; k < chunks; ++k) {
      float* xb = x + b * period;
      const int64_t end = (k + 1) * chunk < period ? (k + 1) * chunk : period;
#pragma omp simd
      for (int64_t i = k * chunk; i < end; ++i) xb[i] += rows[i];
    }
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_add_scaled_f32(xcit_ctx* ctx, float* x, const float* y, const float* scale,
                                    int64_t rows, int64_t cols) {
  static const char* const OP = "xcit_cpu_add_scaled_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "x", x)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "y", y)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, OP, rows, cols)) != XCIT_OK) {
    return st;
  }
  xcit_cpu_k(ctx)->add_scaled(x, y, scale, rows, cols, xcit_cpu_threads_of(ctx));
  return XCIT_OK;
}

xcit_status xcit_cpu_add_broadcast_f32(xcit_ctx* ctx, float* x, const float* rows, int64_t total,
                                       int64_t period) {
  static const char* const OP = "xcit_cpu_add_broadcast_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "x", x)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "rows", rows)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, total, period)) != XCIT_OK ||
      (st = xcit_require(ctx, total == 0 || (period > 0 && total % period == 0), OP,
                         "total must be a multiple of period (period >= 1)")) != XCIT_OK) {
    return st;
  }
  xcit_cpu_k(ctx)->add_broadcast(x, rows, total, period, xcit_cpu_threads_of(ctx));
  return XCIT_OK;
}
#endif
