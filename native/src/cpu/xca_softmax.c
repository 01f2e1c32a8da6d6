/* The attention of streamed XCA (xcit.h) from the accumulated stats: the block-diagonal
 * (C, C) matrix whose block h is softmax_j(tau_h G_ij / (|q_i| |k_j|)), zero elsewhere.
 * Same softmax as the fused kernel (xca_parts.h). Work is split over heads; each head
 * writes (zeros included) only its own d rows. */
#if defined(XCIT_ISA)
#include "cpu/xca_parts.h"

void XCIT_KFN(xca_softmax)(float* attn, const float* stats, const float* temperature,
                           int64_t channels, int64_t heads, float* scratch, int threads) {
  const int64_t d = channels / heads;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t h = 0; h < heads; ++h) {
    float* kn = scratch + (int64_t)xcit_tid() * 2 * d;
    float* tmp = kn + d;
    const float* s = stats + h * d * (d + 2);
    for (int64_t j = 0; j < d; ++j) kn[j] = s[j * (d + 2) + d + 1];
    float* block = attn + h * d * channels;
    memset(block, 0, (size_t)(d * channels) * sizeof(float));
    for (int64_t i = 0; i < d; ++i) {
      xca_softmax_row(block + i * channels + h * d, 1, s + i * (d + 2), tmp, s[i * (d + 2) + d], kn,
                      temperature[h], d);
    }
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_xca_softmax_f32(xcit_ctx* ctx, float* attn, const float* stats,
                                     const float* temperature, int64_t channels, int64_t heads) {
  static const char* const OP = "xcit_cpu_xca_softmax_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "attn", attn)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "stats", stats)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "temperature", temperature)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, channels, heads)) != XCIT_OK ||
      (st = xcit_require(ctx, heads >= 1 && channels % heads == 0, OP,
                         "heads must be >= 1 and divide channels")) != XCIT_OK) {
    return st;
  }
  if (channels == 0) return XCIT_OK;
  const int threads = xcit_cpu_threads_of(ctx);
  const int64_t d = channels / heads;
  float* scratch = xcit_cpu_scratch(ctx, OP, (int64_t)threads * 2 * d * (int64_t)sizeof(float));
  if (scratch == NULL) return XCIT_ERR_OUT_OF_MEMORY;
  xcit_cpu_k(ctx)->xca_softmax(attn, stats, temperature, channels, heads, scratch, threads);
  return XCIT_OK;
}
#endif
