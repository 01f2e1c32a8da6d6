/* Row copies of the class-attention stage (xcit.h): gather one row per image, scatter it
 * back, prepend the cls token. Pure memcpy, so no per-ISA kernel. */
#include <string.h>

#include "cpu/runtime.h"

static xcit_status check_rows(xcit_ctx* ctx, const char* op, const float* out, const float* in,
                              int64_t batch, int64_t rows, int64_t cols, int64_t row) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, op, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "in", in)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, op, batch, rows, cols)) != XCIT_OK ||
      (st = xcit_require(ctx, batch == 0 || (row >= 0 && row < rows), op,
                         "row must be in [0, rows)")) != XCIT_OK) {
    return st;
  }
  return XCIT_OK;
}

xcit_status xcit_cpu_gather_row_f32(xcit_ctx* ctx, float* out, const float* in, int64_t batch,
                                    int64_t rows, int64_t cols, int64_t row) {
  const xcit_status st = check_rows(ctx, "xcit_cpu_gather_row_f32", out, in, batch, rows, cols, row);
  if (st != XCIT_OK) return st;
  for (int64_t b = 0; b < batch; ++b) {
    memcpy(out + b * cols, in + (b * rows + row) * cols, (size_t)cols * sizeof(float));
  }
  return XCIT_OK;
}

xcit_status xcit_cpu_scatter_row_f32(xcit_ctx* ctx, float* out, const float* in, int64_t batch,
                                     int64_t rows, int64_t cols, int64_t row) {
  const xcit_status st = check_rows(ctx, "xcit_cpu_scatter_row_f32", out, in, batch, rows, cols, row);
  if (st != XCIT_OK) return st;
  for (int64_t b = 0; b < batch; ++b) {
    memmove(out + (b * rows + row) * cols, in + b * cols, (size_t)cols * sizeof(float));
  }
  return XCIT_OK;
}

xcit_status xcit_cpu_prepend_row_f32(xcit_ctx* ctx, float* out, const float* first,
                                     const float* tokens, int64_t batch,
                                     int64_t tokens_per_image, int64_t cols) {
  static const char* const OP = "xcit_cpu_prepend_row_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "first", first)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "tokens", tokens)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, batch, tokens_per_image + 1, cols)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, tokens_per_image)) != XCIT_OK) {
    return st;
  }
  const int64_t per = tokens_per_image * cols;
#pragma omp parallel for num_threads(xcit_cpu_threads_of(ctx)) if (batch * per >= 262144)
  for (int64_t b = 0; b < batch; ++b) {
    float* dst = out + b * (per + cols);
    memcpy(dst, first, (size_t)cols * sizeof(float));
    memcpy(dst + cols, tokens + b * per, (size_t)per * sizeof(float));
  }
  return XCIT_OK;
}
