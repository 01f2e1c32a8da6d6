/* The application pass of streamed XCA (xcit.h): out = v attn^T over a chunk of tokens,
 * reading only the diagonal (d x d) blocks of the (C, C) attention, so it costs 2 M C d
 * instead of a dense GEMM's 2 M C^2. Same register tiles as the fused kernel's second pass
 * (xca_parts.h). Work is split over (head, block of 256 rows) pairs. */
#if defined(XCIT_ISA)
#include "cpu/xca_parts.h"

#define APPLY_ROWS 256

void XCIT_KFN(xca_apply)(float* out, const float* v, const float* attn, int64_t rows,
                         int64_t channels, int64_t heads, float* scratch, int threads) {
  const int64_t d = channels / heads, dp = xcit_pad(d);
  const int64_t blocks = (rows + APPLY_ROWS - 1) / APPLY_ROWS;
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * channels >= 16384)
  for (int64_t item = 0; item < heads * blocks; ++item) {
    const int64_t h = item % heads, r0 = item / heads * APPLY_ROWS;
    const int64_t r1 = r0 + APPLY_ROWS < rows ? r0 + APPLY_ROWS : rows;
    float* at = scratch + (int64_t)xcit_tid() * d * dp; /* at[j][i] = A[i][j], zero-padded */
    memset(at, 0, (size_t)(d * dp) * sizeof(float));
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j) at[j * dp + i] = attn[(h * d + i) * channels + h * d + j];
    float* o0 = out + h * d;
    const float* v0 = v + h * d;
    int64_t t = r0;
    for (; t + TILE_T <= r1; t += TILE_T)
      apply_tokens(o0 + t * channels, channels, v0 + t * channels, channels, at, d, dp, TILE_T);
    for (; t < r1; ++t) apply_tokens(o0 + t * channels, channels, v0 + t * channels, channels, at, d, dp, 1);
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_xca_apply_f32(xcit_ctx* ctx, float* out, const float* v, const float* attn,
                                   int64_t rows, int64_t channels, int64_t heads) {
  static const char* const OP = "xcit_cpu_xca_apply_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "v", v)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "attn", attn)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, rows, channels, heads)) != XCIT_OK ||
      (st = xcit_require(ctx, heads >= 1 && channels % heads == 0, OP,
                         "heads must be >= 1 and divide channels")) != XCIT_OK ||
      (st = xcit_require(ctx, out != v, OP, "out must not alias v")) != XCIT_OK) {
    return st;
  }
  if (rows == 0 || channels == 0) return XCIT_OK;
  const int threads = xcit_cpu_threads_of(ctx);
  const int64_t d = channels / heads;
  float* scratch = xcit_cpu_scratch(ctx, OP, (int64_t)threads * d * xcit_pad(d) * (int64_t)sizeof(float));
  if (scratch == NULL) return XCIT_ERR_OUT_OF_MEMORY;
  xcit_cpu_k(ctx)->xca_apply(out, v, attn, rows, channels, heads, scratch, threads);
  return XCIT_OK;
}
#endif
