/* Class attention (xcit.h, spec 4): one query row per image over T rows, per head.
 * Tiny next to the GEMMs around it (B * heads * T * d * 2 multiply-adds), so one work
 * item per (image, head) with the scores in the caller's weights output or in scratch. */
#if defined(XCIT_ISA)
#include <math.h>

#include "cpu/simd.h"

void XCIT_KFN(class_attention)(float* out, float* weights, const float* q, const float* kv,
                               int64_t batch, int64_t rows, int64_t channels, int64_t heads,
                               float* scratch, int threads) {
  const int64_t d = channels / heads, c2 = 2 * channels;
  const float scale = 1.0f / sqrtf((float)d);
#pragma omp parallel for num_threads(threads) schedule(static) if (batch * rows * channels >= 65536)
  for (int64_t bh = 0; bh < batch * heads; ++bh) {
    const int64_t b = bh / heads, h = bh % heads;
    float* mine = scratch + (int64_t)xcit_tid() * (rows + d);
    float* score = weights != NULL ? weights + bh * rows : mine;
    float* acc = mine + rows;
    const float* qh = q + b * channels + h * d;
    const float* kvb = kv + b * rows * c2;
    float max = -INFINITY;
    for (int64_t t = 0; t < rows; ++t) {
      const float* k = kvb + t * c2 + h * d;
      float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (int64_t i = 0; i < d; ++i) dot += qh[i] * k[i];
      score[t] = dot * scale;
      max = fmaxf(max, score[t]);
    }
    float sum = 0.0f;
    for (int64_t t = 0; t < rows; ++t) sum += score[t] = expf(score[t] - max);
    const float inv = 1.0f / sum;
    for (int64_t t = 0; t < rows; ++t) score[t] *= inv;
    memset(acc, 0, (size_t)d * sizeof(float));
    for (int64_t t = 0; t < rows; ++t) {
      const float* v = kvb + t * c2 + channels + h * d;
      const float a = score[t];
#pragma omp simd
      for (int64_t i = 0; i < d; ++i) acc[i] += a * v[i];
    }
    memcpy(out + b * channels + h * d, acc, (size_t)d * sizeof(float));
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_class_attention_f32(xcit_ctx* ctx, float* out, float* weights, const float* q,
                                         const float* kv, int64_t batch, int64_t rows,
                                         int64_t channels, int64_t heads) {
  static const char* const OP = "xcit_cpu_class_attention_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "q", q)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "kv", kv)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, batch, rows, channels, 2)) != XCIT_OK ||
      (st = xcit_require(ctx, heads >= 1 && channels % heads == 0, OP,
                         "heads must be >= 1 and divide channels")) != XCIT_OK ||
      (st = xcit_require(ctx, rows >= 1 || batch == 0, OP, "rows must be >= 1")) != XCIT_OK) {
    return st;
  }
  if (batch == 0 || channels == 0) return XCIT_OK;
  const int threads = xcit_cpu_threads_of(ctx);
  const int64_t floats = (int64_t)threads * (rows + channels / heads);
  float* scratch = xcit_cpu_scratch(ctx, OP, floats * (int64_t)sizeof(float));
  if (scratch == NULL) return XCIT_ERR_OUT_OF_MEMORY;
  xcit_cpu_k(ctx)->class_attention(out, weights, q, kv, batch, rows, channels, heads, scratch,
                                   threads);
  return XCIT_OK;
}
#endif
