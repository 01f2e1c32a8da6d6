/* In-place exact-form GELU (xcit.h); the math is vgelu in simd.h. */
#if defined(XCIT_ISA)
#include "cpu/simd.h"

/* Blocks of this many floats are the unit of work sharing: large enough to amortise the
 * scheduling, small enough to balance two threads on a 196 x 1536 MLP hidden layer. */
#define GELU_BLOCK 8192

void XCIT_KFN(gelu)(float* x, int64_t n, int threads) {
  const int64_t blocks = (n + GELU_BLOCK - 1) / GELU_BLOCK;
#pragma omp parallel for num_threads(threads) schedule(static) if (blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t end = (b + 1) * GELU_BLOCK < n ? (b + 1) * GELU_BLOCK : n;
    gelu_span(x + b * GELU_BLOCK, end - b * GELU_BLOCK);
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_gelu_f32(xcit_ctx* ctx, float* x, int64_t n) {
  static const char* const OP = "xcit_cpu_gelu_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "x", x)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, n)) != XCIT_OK) {
    return st;
  }
  xcit_cpu_k(ctx)->gelu(x, n, xcit_cpu_threads_of(ctx));
  return XCIT_OK;
}
#endif
