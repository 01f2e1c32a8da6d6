/* The scores pass of streamed class attention (xcit.h): for a chunk of rows of one image,
 * scores[h, t] = q_h . k_{t,h} / sqrt(d), written into columns of the caller's (heads, T)
 * buffer. Work is split over rows. */
#if defined(XCIT_ISA)
#include <math.h>

#include "cpu/simd.h"

void XCIT_KFN(class_attention_scores)(float* scores, const float* q, const float* k, int64_t rows,
                                      int64_t channels, int64_t heads, int64_t stride,
                                      int threads) {
  const int64_t d = channels / heads;
  const float scale = 1.0f / sqrtf((float)d);
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * channels >= 65536)
  for (int64_t t = 0; t < rows; ++t) {
    const float* kt = k + t * channels;
    for (int64_t h = 0; h < heads; ++h) {
      float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (int64_t i = 0; i < d; ++i) dot += q[h * d + i] * kt[h * d + i];
      scores[h * stride + t] = dot * scale;
    }
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_class_attention_scores_f32(xcit_ctx* ctx, float* scores, const float* q,
                                                const float* k, int64_t rows, int64_t channels,
                                                int64_t heads, int64_t stride) {
  static const char* const OP = "xcit_cpu_class_attention_scores_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "scores", scores)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "q", q)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "k", k)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, rows, channels, heads, stride)) != XCIT_OK ||
      (st = xcit_require(ctx, heads >= 1 && channels % heads == 0, OP,
                         "heads must be >= 1 and divide channels")) != XCIT_OK ||
      (st = xcit_require(ctx, stride >= rows, OP, "stride must be >= rows")) != XCIT_OK) {
    return st;
  }
  if (rows == 0 || channels == 0) return XCIT_OK;
  xcit_cpu_k(ctx)->class_attention_scores(scores, q, k, rows, channels, heads, stride,
                                          xcit_cpu_threads_of(ctx));
  return XCIT_OK;
}
#endif
