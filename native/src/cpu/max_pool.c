/* k x k max pooling, stride k, floor (xcit.h); NaN propagates as in torch. */
#if defined(XCIT_ISA)
#include <math.h>

#include "cpu/simd.h"

void XCIT_KFN(max_pool)(float* out, const float* in, int64_t batch, int64_t height,
                        int64_t width, int64_t channels, int64_t k, int threads) {
  const int64_t oh = height / k, ow = width / k;
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static) if (batch * height * width * channels >= 65536)
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t y = 0; y < oh; ++y) {
      for (int64_t x = 0; x < ow; ++x) {
        float* dst = out + ((b * oh + y) * ow + x) * channels;
        for (int64_t c = 0; c < channels; ++c) dst[c] = -INFINITY;
        for (int64_t i = 0; i < k; ++i) {
          for (int64_t j = 0; j < k; ++j) {
            const float* src = in + ((b * height + y * k + i) * width + x * k + j) * channels;
#pragma omp simd
            for (int64_t c = 0; c < channels; ++c) {
              const float v = src[c], m = dst[c];
              dst[c] = (v > m || v != v) && m == m ? v : m; /* a NaN, once in, stays */
            }
          }
        }
      }
    }
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_max_pool_f32(xcit_ctx* ctx, float* out, const float* in, int64_t batch,
                                  int64_t height, int64_t width, int64_t channels, int64_t k) {
  static const char* const OP = "xcit_cpu_max_pool_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "in", in)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, batch, height, width, channels)) != XCIT_OK ||
      (st = xcit_require(ctx, k >= 1, OP, "k must be >= 1")) != XCIT_OK) {
    return st;
  }
  xcit_cpu_k(ctx)->max_pool(out, in, batch, height, width, channels, k, xcit_cpu_threads_of(ctx));
  return XCIT_OK;
}
#endif
