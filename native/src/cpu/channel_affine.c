/* x = x * scale + shift per channel, in place (xcit.h): an inference BatchNorm. */
#if defined(XCIT_ISA)
#include "cpu/simd.h"

void XCIT_KFN(channel_affine)(float* x, const float* scale, const float* shift, int64_t rows,
                              int64_t cols, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * cols >= 32768)
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * cols;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) xr[c] = xr[c] * scale[c] + shift[c];
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_channel_affine_f32(xcit_ctx* ctx, float* x, const float* scale,
                                        const float* shift, int64_t rows, int64_t cols) {
  static const char* const OP = "xcit_cpu_channel_affine_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "x", x)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "scale", scale)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "shift", shift)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, OP, rows, cols)) != XCIT_OK) {
    return st;
  }
  xcit_cpu_k(ctx)->channel_affine(x, scale, shift, rows, cols, xcit_cpu_threads_of(ctx));
  return XCIT_OK;
}
#endif
