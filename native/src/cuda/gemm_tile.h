// The one tiled GEMM of libxcit_cuda: C (M x N) = sum_k A(m, k) * B(n, k) for each z of a
// 3-D grid, with fp32 accumulation, where A, B and the store are functors. linear.cu
// (dense rows), conv3x3s2.cu (A gathers the 3x3 window: implicit im2col),
// conv_transpose2x2.cu (the store scatters to the 2x2 output pixels) and
// xca_covariance.cu (A = B = u^T, split over tokens) differ only in their functors.
//
// Not cuBLAS-fast (no tensor cores, no double buffering) and not meant to be: it is the
// portable path, the one the emulator verifies, and the fallback where cuBLASLt is
// absent. Block tile 64 x 64, k-step 16, 256 threads each owning a 4 x 4 register tile
// strided by 16 (so the 16 threads of a half warp read 16 consecutive smem words).
//
// Functor contract (all __device__; z, m, n, k are int64):
//   a(z, m, k) -> float   element A[m, k] of batch z; called only for m < M, k < K
//   b(z, n, k) -> float   element B[n, k]; called only for n < N, k < K
//   store(z, m, n, acc)   called once per m < M, n < N with the fp32 dot product
// Logical grid: (ceil(N/64), ceil(M/64), batches) tiles, folded into a device's grid
// where it exceeds it (grid.h), so M, N and the batch count are bounded only by memory;
// block: 256. gemm_launch() is the one launch of every op on this file.
#ifndef XCIT_CUDA_GEMM_TILE_H
#define XCIT_CUDA_GEMM_TILE_H

#include "cuda/grid.h"

namespace xcit {

constexpr int kGemmTile = 64;
constexpr int kGemmStep = 16;
constexpr int kGemmThreads = 256;

template <bool Folded, class ALoad, class BLoad, class Store>
__global__ void __launch_bounds__(kGemmThreads)
    gemm_tile_kernel(ALoad a, BLoad b, Store store, int64_t m_size, int64_t n_size,
                     int64_t k_size, int64_t batches) {
  // Stored k-major ([k][m]) so the inner loop reads a row of m and a row of n; +1 pad
  // keeps the transposing stores from all hitting one bank.
  __shared__ float as[kGemmStep][kGemmTile + 1];
  __shared__ float bs[kGemmStep][kGemmTile + 1];
  // int only within the block (tid < 256, idx < 1024, row < 64); m, n, k and every
  // element offset the functors form are int64.
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  for_each_block<Folded>(ceil_div(n_size, kGemmTile), ceil_div(m_size, kGemmTile), batches,
                 [&](int64_t tile_n, int64_t tile_m, int64_t z) {
    const int64_t m0 = tile_m * kGemmTile, n0 = tile_n * kGemmTile;
    float acc[4][4] = {};
    for (int64_t k0 = 0; k0 < k_size; k0 += kGemmStep) {
      // 64 x 16 elements per operand, 4 per thread; consecutive threads take consecutive
      // k, so dense row-major operands load 16 contiguous elements per row.
      for (int r = 0; r < 4; ++r) {
        const int idx = tid + r * kGemmThreads;
        const int row = idx / kGemmStep, kk = idx % kGemmStep;
        const int64_t k = k0 + kk;
        const int64_t m = m0 + row, n = n0 + row;
        as[kk][row] = (m < m_size && k < k_size) ? a(z, m, k) : 0.0f;
        bs[kk][row] = (n < n_size && k < k_size) ? b(z, n, k) : 0.0f;
      }
      __syncthreads();
      for (int kk = 0; kk < kGemmStep; ++kk) {
        float av[4], bv[4];
        for (int i = 0; i < 4; ++i) av[i] = as[kk][ty + 16 * i];
        for (int j = 0; j < 4; ++j) bv[j] = bs[kk][tx + 16 * j];
        for (int i = 0; i < 4; ++i) {
          for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
      }
      __syncthreads();  // the next step overwrites the tiles
    }
    for (int i = 0; i < 4; ++i) {
      const int64_t m = m0 + ty + 16 * i;
      if (m >= m_size) continue;
      for (int j = 0; j < 4; ++j) {
        const int64_t n = n0 + tx + 16 * j;
        if (n < n_size) store(z, m, n, acc[i][j]);
      }
    }
  });
}

// The launch for an M x N product over `batches` z-slices (each >= 1): the logical tile
// grid, folded to the limits. Any size fits.
inline LaunchGrid gemm_grid(int64_t m, int64_t n, int64_t batches,
                            const GridLimits& limits = grid_limits()) {
  return launch_grid(ceil_div(n, kGemmTile), ceil_div(m, kGemmTile), batches, limits);
}

// Launches C (M x N, per batch) = A B^T through the functors (m, n, k, batches >= 1).
template <class ALoad, class BLoad, class Store>
cudaError_t gemm_launch(cudaStream_t stream, const ALoad& a, const BLoad& b, const Store& store,
                        int64_t m, int64_t n, int64_t k, int64_t batches) {
  const LaunchGrid g = gemm_grid(m, n, batches);
  return xcit_launch(g.folded ? gemm_tile_kernel<true, ALoad, BLoad, Store>
                              : gemm_tile_kernel<false, ALoad, BLoad, Store>,
                     g.dims, dim3(kGemmThreads), 0, stream, a, b, store, m, n, k, batches);
}

}  // namespace xcit

#endif  // XCIT_CUDA_GEMM_TILE_H
