/* Softmax along each row of a (rows, cols) matrix, in place (xcit.h): the max is
 * subtracted before exp, the sum is kept in double (rows can be long: the class-attention
 * scores of a streamed session span every token). Work is split over rows. */
#if defined(XCIT_ISA)
#include <math.h>

#include "cpu/simd.h"

void XCIT_KFN(softmax_rows)(float* x, int64_t rows, int64_t cols, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * cols >= 65536)
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    float max = -INFINITY;
    for (int64_t j = 0; j < cols; ++j) max = fmaxf(max, row[j]);
    double sum = 0.0;
    int64_t j = 0;
    for (; j + VLEN <= cols; j += VLEN) {
      const vf e = vexp(vload(row + j) - max);
      vstore(row + j, e);
      float part = 0.0f;
      for (int l = 0; l < VLEN; ++l) part += e[l];
      sum += part;
    }
    for (; j < cols; ++j) sum += row[j] = expf(row[j] - max);
    const float inv = (float)(1.0 / sum);
#pragma omp simd
    for (int64_t i = 0; i < cols; ++i) row[i] *= inv;
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_softmax_rows_f32(xcit_ctx* ctx, float* x, int64_t rows, int64_t cols) {
  static const char* const OP = "xcit_cpu_softmax_rows_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "x", x)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, rows, cols)) != XCIT_OK) {
    return st;
  }
  if (rows == 0 || cols == 0) return XCIT_OK;
  xcit_cpu_k(ctx)->softmax_rows(x, rows, cols, xcit_cpu_threads_of(ctx));
  return XCIT_OK;
}
#endif
