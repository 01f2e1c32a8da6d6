/* The Gram pass of streamed XCA (xcit.h): per head, over the rows of one chunk of tokens,
 * the raw Gram matrix q^T k and the squared channel norms of q and k, added to (or
 * replacing) the running stats. Same arithmetic as the fused kernel's first pass
 * (xca_parts.h): float32 with per-64-token partial sums. Work is split over heads. */
#if defined(XCIT_ISA)
#include "cpu/xca_parts.h"

void XCIT_KFN(xca_gram)(float* stats, const float* qk, int64_t rows, int64_t channels,
                        int64_t heads, int32_t accumulate, float* scratch, int threads) {
  const int64_t d = channels / heads, dp = xcit_pad(d), per_thread = xca_gram_scratch_floats(d);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t h = 0; h < heads; ++h) {
    float* g = scratch + (int64_t)xcit_tid() * per_thread; /* (d, dp) */
    float* qn = g + d * dp;
    float* kn = qn + dp;
    float* qn_chunk = kn + dp;
    float* kn_chunk = qn_chunk + dp;
    float* qc = kn_chunk + dp;
    float* kc = qc + XCA_CHUNK * dp;
    memset(g, 0, (size_t)per_thread * sizeof(float));
    xca_gram_pass(g, qn, kn, qn_chunk, kn_chunk, qc, kc, qk + h * d, qk + channels + h * d,
                  2 * channels, rows, d);
    float* s = stats + h * d * (d + 2);
    for (int64_t i = 0; i < d; ++i) {
      float* row = s + i * (d + 2);
      if (accumulate) {
        for (int64_t j = 0; j < d; ++j) row[j] += g[i * dp + j];
        row[d] += qn[i];
        row[d + 1] += kn[i];
      } else {
        for (int64_t j = 0; j < d; ++j) row[j] = g[i * dp + j];
        row[d] = qn[i];
        row[d + 1] = kn[i];
      }
    }
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_xca_gram_f32(xcit_ctx* ctx, float* stats, const float* qk, int64_t rows,
                                  int64_t channels, int64_t heads, int32_t accumulate) {
  static const char* const OP = "xcit_cpu_xca_gram_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "stats", stats)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "qk", qk)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, rows, channels, heads)) != XCIT_OK ||
      (st = xcit_require(ctx, heads >= 1 && channels % heads == 0, OP,
                         "heads must be >= 1 and divide channels")) != XCIT_OK) {
    return st;
  }
  if (channels == 0) return XCIT_OK;
  const int threads = xcit_cpu_threads_of(ctx);
  const int64_t d = channels / heads, dp = xcit_pad(d);
  const int64_t per_thread = d * dp + 4 * dp + 2 * 64 * dp; /* xca_gram_scratch_floats */
  float* scratch = xcit_cpu_scratch(ctx, OP, (int64_t)threads * per_thread * (int64_t)sizeof(float));
  if (scratch == NULL) return XCIT_ERR_OUT_OF_MEMORY;
  xcit_cpu_k(ctx)->xca_gram(stats, qk, rows, channels, heads, accumulate != 0, scratch, threads);
  return XCIT_OK;
}
#endif
