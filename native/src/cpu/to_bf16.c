/* float32 -> bfloat16 with round-to-nearest-even (xcit.h): the GEMM inputs of the bf16
 * precision. Integer arithmetic on the bit patterns, so it vectorises on every ISA and
 * gives the same bits as the avx512_bf16 conversion instruction. */
#if defined(XCIT_ISA)
#include "cpu/simd.h"

void XCIT_KFN(to_bf16)(uint16_t* out, const float* in, int64_t n, int threads) {
  const int64_t block = 16384, blocks = (n + block - 1) / block;
#pragma omp parallel for num_threads(threads) schedule(static) if (blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t end = (b + 1) * block < n ? (b + 1) * block : n;
#pragma omp simd
    for (int64_t i = b * block; i < end; ++i) {
      uint32_t bits;
      memcpy(&bits, in + i, sizeof bits);
      const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
      const int nan = (bits & 0x7FFFFFFFu) > 0x7F800000u;
      out[i] = (uint16_t)(nan ? (bits >> 16) | 0x40u : rounded); /* NaN stays a quiet NaN */
    }
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
