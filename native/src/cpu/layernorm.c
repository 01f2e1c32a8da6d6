/* LayerNorm over the last dimension, fp32 storage, double accumulation (xcit.h). */
#include <math.h>

#include "common/error.h"
#include "xcit/xcit.h"

static const char* const OP = "xcit_cpu_layernorm_f32";

/*
 * One row of `cols` floats. Two passes in double: the mean first, then the sum of
 * squared deviations from it, which avoids the cancellation of E[x^2] - E[x]^2 that
 * tokens with a large common offset would suffer. The affine step is also done in
 * double and rounded once, so the result is within 1 ulp of the exact value.
 * out may equal in: both reductions finish before the first write, and the last
 * pass reads in[c] before it writes out[c].
 */
static void layernorm_row(float* out, const float* in, const float* gamma, const float* beta,
                          int64_t cols, float eps) {
  double sum = 0.0;
  for (int64_t c = 0; c < cols; ++c) {
    sum += in[c];
  }
  const double mean = sum / (double)cols;

  double squares = 0.0;
  for (int64_t c = 0; c < cols; ++c) {
    const double d = (double)in[c] - mean;
    squares += d * d;
  }
  const double rstd = 1.0 / sqrt(squares / (double)cols + (double)eps);

  for (int64_t c = 0; c < cols; ++c) {
    out[c] = (float)(((double)in[c] - mean) * rstd * gamma[c] + beta[c]);
  }
}

xcit_status xcit_cpu_layernorm_f32(xcit_ctx* ctx, float* out, const float* in,
                                   const float* gamma, const float* beta, int64_t rows,
                                   int64_t cols, float eps) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "in", in)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "gamma", gamma)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "beta", beta)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, OP, rows, cols)) != XCIT_OK ||
      (st = xcit_check_eps(ctx, OP, eps)) != XCIT_OK) {
    return st;
  }
  for (int64_t r = 0; r < rows; ++r) {
    layernorm_row(out + r * cols, in + r * cols, gamma, beta, cols, eps);
  }
  return XCIT_OK;
}
