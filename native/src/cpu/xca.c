/* Cross-covariance attention core (xcit.h, spec 3), fused per image and head:
 *   pass 1 over the tokens: raw Gram G = q^T k (d x d) and squared row norms of q and k;
 *   then A = softmax(tau * G / (|q_i| |k_j|)) (d x d, tiny);
 *   pass 2 over the tokens: out = v A^T.
 * Normalised q and k never exist. Tokens are taken in chunks of XCA_CHUNK whose q and k
 * rows are copied, zero-padded to a multiple of the vector width, into per-thread scratch
 * (so every vector load is whole, whatever d); sums are kept per chunk and then added to
 * the running totals, which bounds float32 rounding by ~(chunk + N/chunk) ulps instead
 * of N. Work is split over (image, head) pairs. */
#if defined(XCIT_ISA)
#include "cpu/xca_parts.h"

/* Floats of per-thread scratch for head dimension d (must match the entry's formula). */
static inline int64_t xca_scratch_floats(int64_t d) {
  return xcit_pad(d) * d + xca_gram_scratch_floats(d); /* at, then the Gram pass's */
}

static void xca_head(float* out, const float* qkv, float tau, int64_t tokens, int64_t c,
                     int64_t d, int64_t head, float* scratch) {
  const int64_t dp = xcit_pad(d), c3 = 3 * c;
  float* at = scratch;           /* (d, dp) A transposed: at[j][i] = A[i][j] */
  float* g = at + d * dp;        /* (d, dp) raw Gram, then the softmax rows */
  float* qn = g + d * dp;        /* (dp) running sum of q_i^2 */
  float* kn = qn + dp;           /* (dp) running sum of k_j^2 */
  float* qn_chunk = kn + dp;     /* (dp) this chunk's sums */
  float* kn_chunk = qn_chunk + dp;
  float* qc = kn_chunk + dp;     /* (XCA_CHUNK, dp) q rows of the chunk, zero-padded */
  float* kc = qc + XCA_CHUNK * dp;
  memset(scratch, 0, (size_t)xca_scratch_floats(d) * sizeof(float));

  xca_gram_pass(g, qn, kn, qn_chunk, kn_chunk, qc, kc, qkv + head * d, qkv + c + head * d, c3,
                tokens, d);
  /* A = softmax_j(tau G_ij / (|q_i| |k_j|)), in float; at[j][i] = A[i][j]. */
  for (int64_t i = 0; i < d; ++i) xca_softmax_row(at + i, dp, g + i * dp, g + i * dp, qn[i], kn, tau, d);

  const float* v0 = qkv + 2 * c + head * d;
  float* o0 = out + head * d;
  int64_t t = 0;
  for (; t + TILE_T <= tokens; t += TILE_T) apply_tokens(o0 + t * c, c, v0 + t * c3, c3, at, d, dp, TILE_T);
  for (; t < tokens; ++t) apply_tokens(o0 + t * c, c, v0 + t * c3, c3, at, d, dp, 1);
}

void XCIT_KFN(xca)(float* out, const float* qkv, const float* temperature, int64_t batch,
                   int64_t tokens, int64_t channels, int64_t heads, float* scratch, int threads) {
  const int64_t d = channels / heads, per_thread = xca_scratch_floats(d);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t bh = 0; bh < batch * heads; ++bh) {
    const int64_t b = bh / heads, h = bh % heads;
    xca_head(out + b * tokens * channels, qkv + b * tokens * 3 * channels, temperature[h], tokens,
             channels, d, h, scratch + (int64_t)xcit_tid() * per_thread);
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_xca_f32(xcit_ctx* ctx, float* out, const float* qkv, const float* temperature,
                             int64_t batch, int64_t tokens, int64_t channels, int64_t heads) {
  static const char* const OP = "xcit_cpu_xca_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "qkv", qkv)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "temperature", temperature)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, batch, tokens, channels, 3)) != XCIT_OK ||
      (st = xcit_require(ctx, heads >= 1 && channels % heads == 0, OP,
                         "heads must be >= 1 and divide channels")) != XCIT_OK) {
    return st;
  }
  if (batch == 0 || tokens == 0 || channels == 0) return XCIT_OK;
  const int threads = xcit_cpu_threads_of(ctx);
  const int64_t d = channels / heads, dp = xcit_pad(d);
  const int64_t per_thread = 2 * d * dp + 4 * dp + 2 * 64 * dp; /* xca_scratch_floats */
  float* scratch = xcit_cpu_scratch(ctx, OP, (int64_t)threads * per_thread * (int64_t)sizeof(float));
  if (scratch == NULL) return XCIT_ERR_OUT_OF_MEMORY;
  xcit_cpu_k(ctx)->xca(out, qkv, temperature, batch, tokens, channels, heads, scratch, threads);
  return XCIT_OK;
}
#endif
