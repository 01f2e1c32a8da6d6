/* float32 -> bfloat16 with round-to-nearest-even (xcit.h, bf16_bits in simd.h): the GEMM
 * inputs of the bf16 precision. */
#if defined(XCIT_ISA)
#include "cpu/simd.h"

void XCIT_KFN(to_bf16)(uint16_t* out, const float* in, int64_t n, int threads) {
  const int64_t block = 16384, blocks = (n + block - 1) / block;
#pragma omp parallel for num_threads(threads) schedule(static) if (blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t end = (b + 1) * block < n ? (b + 1) * block : n;
#pragma omp simd
    for (int64_t i = b * block; i < end; ++i) out[i] = bf16_bits(in[i]);
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_to_bf16(xcit_ctx* ctx, uint16_t* out, const float* in, int64_t n) {
  static const char* const OP = "xcit_cpu_to_bf16";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "in", in)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, n)) != XCIT_OK) {
    return st;
  }
  xcit_cpu_k(ctx)->to_bf16(out, in, n, xcit_cpu_threads_of(ctx));
  return XCIT_OK;
}
#endif
