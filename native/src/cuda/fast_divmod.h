// Division by a divisor fixed at launch, without a divide instruction. GPUs have none: a
// 64-bit '/' or '%' compiles to a call of a ~70-instruction routine, a 32-bit one to ~20.
// The implicit-GEMM convolution splits every staged element's row and k into coordinates
// (pixel -> image, y, x; k -> tap, channel), five divisions per element, hundreds of
// millions of elements per batch-256 stage; with this each is a multiply-high and a shift.
//
// The round-up method (Granlund & Montgomery 1994; CUTLASS's FastDivmod): for a divisor d in
// [1, 2^31) let l = ceil(log2 d), p = 31 + l, m = ceil(2^p / d) (< 2^32); then for every n in
// [0, 2^31), n / d = umulhi(n, m) >> (p - 32), d = 1 aside (m would be 2^31, shift -1).
// Self-contained (no CUDA header) so that the host tests check it exhaustively near every
// boundary (test_emu_gemm: fast_divmod).
#ifndef XCIT_CUDA_FAST_DIVMOD_H
#define XCIT_CUDA_FAST_DIVMOD_H

#include <cstdint>

#ifdef __CUDACC__
#define XCIT_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define XCIT_HOST_DEVICE inline
#endif

namespace xcit {

// Operands below this are what FastDivmod divides exactly (dividends and divisors).
constexpr int64_t kFastDivmodLimit = int64_t{1} << 31;

struct FastDivmod {
  uint32_t divisor = 1, multiplier = 0, shift = 0;

  FastDivmod() = default;
  // d in [1, kFastDivmodLimit); the caller checks.
  explicit FastDivmod(int64_t d) : divisor(static_cast<uint32_t>(d)) {
    if (d == 1) return;
    uint32_t l = 0;
    while ((int64_t{1} << l) < d) ++l;  // ceil(log2 d), d >= 2
    const uint32_t p = 31 + l;
    multiplier = static_cast<uint32_t>(((uint64_t{1} << p) + static_cast<uint64_t>(d) - 1) /
                                       static_cast<uint64_t>(d));
    shift = p - 32;
  }

  // n / divisor for n in [0, kFastDivmodLimit).
  XCIT_HOST_DEVICE uint32_t div(uint32_t n) const {
    if (divisor == 1) return n;
#ifdef __CUDA_ARCH__
    return __umulhi(n, multiplier) >> shift;
#else
    return static_cast<uint32_t>((static_cast<uint64_t>(n) * multiplier) >> 32) >> shift;
#endif
  }

  // quotient and remainder of n / divisor, n in [0, kFastDivmodLimit).
  XCIT_HOST_DEVICE void divmod(uint32_t n, uint32_t& quotient, uint32_t& remainder) const {
    quotient = div(n);
    remainder = n - quotient * divisor;
  }
};

}  // namespace xcit

#endif  // XCIT_CUDA_FAST_DIVMOD_H
