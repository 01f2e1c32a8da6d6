// 16-byte vector loads and stores for the memory-bound kernels (layernorm.cu, lpi.cu,
// class_attention_folded.cu) and the staging copies (im2col3x3s2.cu, xca.cu): one 128-bit
// access moves kVec<T> = 16 / sizeof(T) consecutive elements (8 fp16/bf16, 4 fp32), an
// eighth or a quarter of the instructions of scalar code for the same bytes.
//
// The alignment rule: a vector access at p needs p 16-byte aligned (a device faults with
// "misaligned address" otherwise; the emulator fails the launch). A row-major (rows, cols)
// tensor at `base` takes vector accesses along its rows iff base is 16-byte aligned and
// cols * sizeof(T) is a multiple of 16, so that every row starts aligned. A session's
// activations are (the plan's offsets are multiples of 64 bytes in fp32, so of 32 in a
// 16-bit session, and C is a multiple of 8 in every zoo model); views may not be (a band
// of rows, one image of a batch with an odd row count times C, a cls row), so launchers
// ask vector_rows() and otherwise run the scalar code.
#ifndef XCIT_CUDA_VEC_H
#define XCIT_CUDA_VEC_H

#include <cstdint>
#include <cstring>
#include <initializer_list>

#include "cuda/compat.h"

namespace xcit {

template <class T>
constexpr int kVec = static_cast<int>(16 / sizeof(T));

// Whether rows of `cols` elements of T at every pointer given (NULL ones ignored) take
// vector accesses: each pointer 16-byte aligned and cols a multiple of kVec<T>.
template <class T>
inline bool vector_rows(int64_t cols, std::initializer_list<const void*> pointers) {
  if (cols % kVec<T> != 0) return false;
  for (const void* p : pointers) {
    if ((reinterpret_cast<uintptr_t>(p) & 15u) != 0) return false;
  }
  return true;
}

// v[i] = p[i] widened to fp32, i < kVec<T>; p 16-byte aligned.
template <class T>
__device__ __forceinline__ void load_vec(const T* p, float (&v)[kVec<T>]) {
#ifdef __CUDACC__
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  const T* e = reinterpret_cast<const T*>(&raw);
#else
  ::xcit_emu::require_aligned(p, 16, "a 16-byte vector load");
  T e[kVec<T>];
  std::memcpy(e, p, sizeof e);
#endif
  for (int i = 0; i < kVec<T>; ++i) v[i] = to_float(e[i]);
}

// p[i] = v[i] rounded to T, i < kVec<T>; p 16-byte aligned.
template <class T>
__device__ __forceinline__ void store_vec(T* p, const float (&v)[kVec<T>]) {
#ifdef __CUDACC__
  uint4 raw;
  T* e = reinterpret_cast<T*>(&raw);
  for (int i = 0; i < kVec<T>; ++i) e[i] = from_float<T>(v[i]);
  *reinterpret_cast<uint4*>(p) = raw;
#else
  ::xcit_emu::require_aligned(p, 16, "a 16-byte vector store");
  T e[kVec<T>];
  for (int i = 0; i < kVec<T>; ++i) e[i] = from_float<T>(v[i]);
  std::memcpy(p, e, sizeof e);
#endif
}

// 16 raw bytes from p to q, no conversion (im2col's copies); both 16-byte aligned.
__device__ __forceinline__ void copy_16(void* q, const void* p) {
#ifdef __CUDACC__
  *reinterpret_cast<uint4*>(q) = *reinterpret_cast<const uint4*>(p);
#else
  ::xcit_emu::require_aligned(p, 16, "a 16-byte vector load");
  ::xcit_emu::require_aligned(q, 16, "a 16-byte vector store");
  std::memcpy(q, p, 16);
#endif
}

// 16 zero bytes at q, 16-byte aligned.
__device__ __forceinline__ void zero_16(void* q) {
#ifdef __CUDACC__
  *reinterpret_cast<uint4*>(q) = make_uint4(0, 0, 0, 0);
#else
  ::xcit_emu::require_aligned(q, 16, "a 16-byte vector store");
  std::memset(q, 0, 16);
#endif
}

// W consecutive elements at p as fp32, W = 1 (a scalar access) or kVec<T> (a vector
// access: p 16-byte aligned), so one kernel body serves both instantiations.
template <class T, int W>
__device__ __forceinline__ void load_n(const T* p, float (&v)[W]) {
  if constexpr (W == 1) {
    v[0] = to_float(p[0]);
  } else {
    static_assert(W == kVec<T>, "a vector access moves 16 bytes");
    load_vec(p, v);
  }
}

template <class T, int W>
__device__ __forceinline__ void store_n(T* p, const float (&v)[W]) {
  if constexpr (W == 1) {
    p[0] = from_float<T>(v[0]);
  } else {
    static_assert(W == kVec<T>, "a vector access moves 16 bytes");
    store_vec(p, v);
  }
}

// W consecutive elements from p to q as they are (W = 1 or kVec<T>: both 16-byte aligned),
// or W zeros at q: the staging copies of im2col3x3s2.cu and xca.cu.
template <class T, int W>
__device__ __forceinline__ void copy_n(T* q, const T* p) {
  if constexpr (W == 1) {
    *q = *p;
  } else {
    static_assert(W == kVec<T>, "a vector access moves 16 bytes");
    copy_16(q, p);
  }
}

template <class T, int W>
__device__ __forceinline__ void zero_n(T* q) {
  if constexpr (W == 1) {
    *q = from_float<T>(0.0f);
  } else {
    static_assert(W == kVec<T>, "a vector access moves 16 bytes");
    zero_16(q);
  }
}

}  // namespace xcit

#endif  // XCIT_CUDA_VEC_H
