/* Internal: the per-ISA building blocks of the CPU kernels.
 *
 * Every kernel file is compiled once per instruction set (CMake: avx512, avx2, generic)
 * with -DXCIT_ISA=<n> and that ISA's -m flags; this header then names the functions
 * <name>_<isa> and defines a GCC vector type `vf` of the ISA's natural width. Kernels are
 * written once against `vf` (explicit register tiles) or as plain loops under
 * `#pragma omp simd` (left to the compiler), so there is one source per kernel and no
 * copy per ISA. Element-wise math (exp, erf, GELU) is written branch-free on scalars so
 * that the vectoriser can turn it into straight-line vector code.
 */
#ifndef XCIT_CPU_SIMD_H
#define XCIT_CPU_SIMD_H

#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu/kernels.h"

#if !defined(XCIT_ISA)
#error "simd.h is for the per-ISA kernel objects (compile with -DXCIT_ISA=...)"
#endif

#if XCIT_ISA == XCIT_ISA_AVX512
#define XCIT_KFN(name) name##_avx512
#define VLEN 16
#elif XCIT_ISA == XCIT_ISA_AVX2
#define XCIT_KFN(name) name##_avx2
#define VLEN 8
#else
#define XCIT_KFN(name) name##_generic
#define VLEN 4
#endif

/* Prototypes of this ISA's kernels, e.g. void gelu_avx512(float* x, ...). */
#define XCIT_CPU_KERNEL_PROTO(name, args) void XCIT_KFN(name) args;
XCIT_CPU_KERNELS(XCIT_CPU_KERNEL_PROTO)
#undef XCIT_CPU_KERNEL_PROTO

/* One register of floats; `vfu` is the same with 4-byte alignment and may_alias, for
 * loads and stores at any float address. */
typedef float vf __attribute__((vector_size(VLEN * 4)));
typedef float vfu __attribute__((vector_size(VLEN * 4), aligned(4), may_alias));
typedef int32_t vi __attribute__((vector_size(VLEN * 4)));

static inline vf vload(const float* p) { return *(const vfu*)p; }
static inline void vstore(float* p, vf v) { *(vfu*)p = v; }
static inline vf vset1(float x) { return (vf){0} + x; }

/* The calling thread's index in the current OpenMP team (0 outside a team). */
static inline int xcit_tid(void) {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

/* n rounded up to a multiple of VLEN. */
static inline int64_t vround(int64_t n) { return (n + VLEN - 1) / VLEN * VLEN; }

/* Lane-wise select and bit casts; comparisons of vf give a vi mask (-1 or 0). */
static inline vf vselect(vi mask, vf yes, vf no) {
  return (vf)(((vi)yes & mask) | ((vi)no & ~mask));
}
static inline vf vmin(vf a, vf b) { return vselect(a < b, a, b); }
static inline vf vmax(vf a, vf b) { return vselect(a > b, a, b); }

/* exp(x) in float, ~1 ulp (Cephes expf): 2^n * p(r) with r = x - n ln2 (ln2 in two
 * parts), n rounded with the 1.5 * 2^23 trick; branch-free. Below -87 the result is 0,
 * which is what GELU's exp(-z^2) needs; above 88 it saturates at exp(88). */
static inline vf vexp(vf x) {
  const vi tiny = x < -87.0f;
  x = vmax(vmin(x, vset1(88.0f)), vset1(-87.0f));
  const vf shifter = vset1(12582912.0f); /* 1.5 * 2^23 */
  const vf n = (x * 1.44269504088896341f + shifter) - shifter;
  const vf r = x - n * 0.693359375f + n * 2.12194440e-4f;
  vf p = vset1(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const vi bits = (__builtin_convertvector(n, vi) + 127) << 23;
  return vselect(tiny, vset1(0.0f), p * (vf)bits);
}

/* Exact-form GELU x/2 (1 + erf(x/sqrt 2)) with erf from Abramowitz & Stegun 7.1.26
 * (|error| <= 1.5e-7 absolute, the approximation oneDNN's gelu_erf uses too):
 * erfc(z) = t (a1 + t (a2 + ...)) exp(-z^2), t = 1 / (1 + p z), z = |x| / sqrt 2.
 * For x < 0 the result is x/2 * erfc(z) directly, so there is no cancellation in
 * 1 + erf(x/sqrt 2) where it is tiny. Error: <= 2.5e-7 |x| + 1 ulp with the float32
 * evaluation (0.75e-7 |x| of it from the approximation). */
static inline vf vgelu(vf x) {
  const vf z = (vf)((vi)x & 0x7fffffff) * 0.70710678118654752f;
  const vf t = 1.0f / (1.0f + 0.3275911f * z);
  vf p = vset1(1.061405429f);
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const vf half_erfc = 0.5f * p * t * vexp(-z * z);
  return x * vselect(x < 0.0f, half_erfc, 1.0f - half_erfc); /* x * Phi(x) */
}

/* float32 -> bfloat16 bits, round to nearest even, NaN kept a quiet NaN: the one rounding
 * of every bf16 GEMM input. Integer arithmetic on the bit pattern, so loops over it
 * vectorise on every ISA, with the same bits as the avx512_bf16 conversion instruction. */
static inline uint16_t bf16_bits(float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
  const int nan = (bits & 0x7FFFFFFFu) > 0x7F800000u;
  return (uint16_t)(nan ? (bits >> 16) | 0x40u : rounded);
}

/* GELU over n floats in place: whole vectors, then the tail through a padded register. */
static inline void gelu_span(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + VLEN <= n; i += VLEN) vstore(x + i, vgelu(vload(x + i)));
  if (i < n) {
    float tmp[VLEN] = {0};
    memcpy(tmp, x + i, (size_t)(n - i) * sizeof(float));
    vstore(tmp, vgelu(vload(tmp)));
    memcpy(x + i, tmp, (size_t)(n - i) * sizeof(float));
  }
}

#endif /* XCIT_CPU_SIMD_H */
