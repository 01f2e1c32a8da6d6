// One warp's 16 x 16 product tile, acc (fp32) += A (16 x 16) B (16 x 16), with A and B in
// shared memory in the storage type T, for kernels whose small products (XCA's per-head
// d x d Gram matrices and their application, d <= 64) suit one warp per tile:
// - fp16 / bf16: the tensor cores through nvcuda::wmma (fp32 accumulation; the products of
//   16-bit values are exact in fp32), emulated on the host by cuda/emu/wmma_emu.h;
// - fp32: CUDA-core FMAs in fp32, k in order, so an fp32 session keeps fp32 products
//   (TF32 tensor cores would round the inputs to 10 mantissa bits: not fp32's bound).
// The accumulator's layout across lanes is this header's business only: callers go
// through zero / mma / store, never through the elements.
//
// Operands: element (r, k) of A at a[r * lda + k] (RowMajor) or a[r + k * lda] (ColMajor),
// likewise B (k, c). wmma's rules hold for every type: the 16 x 16 operand and result
// pointers 32-byte aligned, leading dimensions multiples of 16 bytes. Warp-collective:
// every lane of the warp calls each function with the same arguments.
#ifndef XCIT_CUDA_MMA_TILE_H
#define XCIT_CUDA_MMA_TILE_H

#include <type_traits>

#include "cuda/compat.h"

#ifdef __CUDACC__
#include <mma.h>
#else
#include "cuda/emu/wmma_emu.h"
#endif

namespace xcit {

struct RowMajor {};
struct ColMajor {};

constexpr int kMmaTile = 16;

template <class T, bool Tensor = !std::is_same_v<T, float>>
struct WarpTile;

// Tensor cores (fp16, bf16).
template <class T>
struct WarpTile<T, true> {
  template <class L>
  using Layout = std::conditional_t<std::is_same_v<L, RowMajor>, nvcuda::wmma::row_major, nvcuda::wmma::col_major>;

  nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> acc;

  __device__ __forceinline__ void zero() { nvcuda::wmma::fill_fragment(acc, 0.0f); }

  template <class LA, class LB>
  __device__ __forceinline__ void mma(const T* a, int lda, const T* b, int ldb) {
    nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, T, Layout<LA>> fa;
    nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 16, T, Layout<LB>> fb;
    nvcuda::wmma::load_matrix_sync(fa, a, static_cast<unsigned>(lda));
    nvcuda::wmma::load_matrix_sync(fb, b, static_cast<unsigned>(ldb));
    nvcuda::wmma::mma_sync(acc, fa, fb, acc);
  }

  // c (16 x 16, row-major, fp32) = acc.
  __device__ __forceinline__ void store(float* c, int ldc) const {
    nvcuda::wmma::store_matrix_sync(c, acc, static_cast<unsigned>(ldc), nvcuda::wmma::mem_row_major);
  }
};

// CUDA cores (fp32): lane l owns row l / 2, columns 8 (l % 2) .. 8 (l % 2) + 7.
template <class T>
struct WarpTile<T, false> {
  float acc[8];

  __device__ __forceinline__ void zero() {
    for (float& v : acc) v = 0.0f;
  }

  template <class LA, class LB>
  __device__ __forceinline__ void mma(const T* a, int lda, const T* b, int ldb) {
    const int lane = threadIdx.x % 32, r = lane / 2, c0 = (lane % 2) * 8;
    for (int k = 0; k < kMmaTile; ++k) {
      const float av = std::is_same_v<LA, RowMajor> ? a[r * lda + k] : a[r + k * lda];
      for (int c = 0; c < 8; ++c) {
        const float bv = std::is_same_v<LB, RowMajor> ? b[k * ldb + c0 + c] : b[k + (c0 + c) * ldb];
        acc[c] = fmaf(av, bv, acc[c]);
      }
    }
  }

  __device__ __forceinline__ void store(float* c, int ldc) const {
    const int lane = threadIdx.x % 32, r = lane / 2, c0 = (lane % 2) * 8;
    for (int i = 0; i < 8; ++i) c[r * ldc + c0 + i] = acc[i];
  }
};

}  // namespace xcit

#endif  // XCIT_CUDA_MMA_TILE_H
