/* The weighted-sum pass of streamed class attention (xcit.h): for a chunk of rows of one
 * image, out[h*d + i] (+)= sum_t weights[h, t] v[t, h*d + i], the weights read from
 * columns of the caller's (heads, T) buffer. Rows are split over threads, each summing
 * into its own (C) slice of scratch in float32; the slices are then added in thread
 * order, so the result does not depend on scheduling. */
#if defined(XCIT_ISA)
#include "cpu/simd.h"

void XCIT_KFN(class_attention_apply)(float* out, const float* weights, const float* v,
                                     int64_t rows, int64_t channels, int64_t heads,
                                     int64_t stride, int32_t accumulate, float* scratch,
                                     int threads) {
  const int64_t d = channels / heads;
  const int team = rows * channels >= 65536 ? threads : 1;
#pragma omp parallel num_threads(team)
  {
    const int tid = xcit_tid(), n = team > 1 ? omp_get_num_threads() : 1;
    float* acc = scratch + (int64_t)tid * channels;
    memset(acc, 0, (size_t)channels * sizeof(float));
    const int64_t t0 = rows * tid / n, t1 = rows * (tid + 1) / n;
    for (int64_t t = t0; t < t1; ++t) {
      const float* vt = v + t * channels;
      for (int64_t h = 0; h < heads; ++h) {
        const float a = weights[h * stride + t];
#pragma omp simd
        for (int64_t i = 0; i < d; ++i) acc[h * d + i] += a * vt[h * d + i];
      }
    }
#pragma omp barrier
#pragma omp for schedule(static)
    for (int64_t c = 0; c < channels; ++c) {
      float s = accumulate ? out[c] : 0.0f;
      for (int p = 0; p < n; ++p) s += scratch[(int64_t)p * channels + c];
      out[c] = s;
    }
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_class_attention_apply_f32(xcit_ctx* ctx, float* out, const float* weights,
                                               const float* v, int64_t rows, int64_t channels,
                                               int64_t heads, int64_t stride,
                                               int32_t accumulate) {
  static const char* const OP = "xcit_cpu_class_attention_apply_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "weights", weights)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "v", v)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, rows, channels, heads, stride)) != XCIT_OK ||
      (st = xcit_require(ctx, heads >= 1 && channels % heads == 0, OP,
                         "heads must be >= 1 and divide channels")) != XCIT_OK ||
      (st = xcit_require(ctx, stride >= rows, OP, "stride must be >= rows")) != XCIT_OK) {
    return st;
  }
  if (channels == 0) return XCIT_OK;
  const int threads = xcit_cpu_threads_of(ctx);
  float* scratch = xcit_cpu_scratch(ctx, OP, (int64_t)threads * channels * (int64_t)sizeof(float));
  if (scratch == NULL) return XCIT_ERR_OUT_OF_MEMORY;
  xcit_cpu_k(ctx)->class_attention_apply(out, weights, v, rows, channels, heads, stride,
                                         accumulate != 0, scratch, threads);
  return XCIT_OK;
}
#endif
