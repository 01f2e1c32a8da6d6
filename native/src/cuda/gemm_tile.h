// The one tiled GEMM of libxcit_cuda: C (M x N) = sum_k A(m, k) * B(n, k) for each z of a
// 3-D grid, with fp32 accumulation, where A, B and the store are functors. linear.cu
// (dense rows), conv3x3s2.cu (A gathers the 3x3 window: implicit im2col),
// conv_transpose2x2.cu (the store scatters to the 2x2 output pixels) and
// xca_covariance.cu (A = B = u^T, split over tokens) differ only in their functors.
//
// Two kernels on one 64 x 64 block tile and one grid, chosen by the storage type S the
// caller names (gemm_launch<S>): every value a(), b() return must be exactly an S (an
// element of an S tensor widened to float, 0 or 1), because the tensor-core kernel rounds
// it back to S to stage it, which is exact only then. A caller whose operands are not
// (fp32 data, or values computed in fp32) names float.
// - S = float: CUDA cores in fp32 (no TF32: fp32 sessions keep fp32 products). k-step 16,
//   256 threads each owning a 4 x 4 register tile strided by 16 (so the 16 threads of a
//   half warp read 16 consecutive smem words).
// - S = f16 / bf16: tensor cores through mma_tile.h (nvcuda::wmma m16n16k16, fp32
//   accumulation). A and B staged in smem in S (k-step 32), the 8 warps computing the
//   4 x 4 grid of 16 x 16 tiles, 2 per warp; the accumulators go through an fp32 smem tile
//   to the store functor, which gets an fp32 sum as before (in another order).
// Not cuBLAS-fast either way (64 x 64 tiles, no cp.async or shared-memory pipeline): the
// portable path, the one the emulator verifies, and the fallback where cuBLASLt is absent;
// operands that allow it are staged in 16-byte units with the next step's prefetched into
// registers (below).
//
// Functor contract (all __device__; z, m, n, k are int64):
//   a(z, m, k) -> float   element A[m, k] of batch z; called only for m < M, k < K
//   b(z, n, k) -> float   element B[n, k]; called only for n < N, k < K
//   store(z, m, n, acc)   called once per m < M, n < N with the fp32 dot product
// An operand functor may also stage whole 16-byte units for the tensor-core kernel (S = f16
// or bf16), declaring `static constexpr bool kUnits = true` and
//   units(z, m, k, S* dst)   A[m, k .. k + 7] (or B's) as S into dst (16-byte aligned shared
//                            memory); called only for m < M and k < K with k % 8 == 0
// and then K must be a multiple of 8 (the launcher's to check), and both operands must: a
// thread then stages one 16-byte unit per operand and k-step where it staged 8 elements,
// one call each (the coordinates, bounds and address of a unit are worked out once, not
// per element), loading the next step's units into registers while this one's mma runs.
// Logical grid: (ceil(N/64), ceil(M/64), batches) tiles, folded into a device's grid
// where it exceeds it (grid.h), so M, N and the batch count are bounded only by memory;
// block: 256. gemm_launch() is the one launch of every op on this file.
//
// Split-K (gemm_launch_split_k, one product, batches = 1): where the tile grid is too small
// to fill a GPU (the patch embedding's late stages at batch 1: 24 tiles of 64 x 64 for
// 196 pixels x 384 channels against an H200's 132 SMs, each looping over K = 1728), K is
// cut into slices run as the z of the same grid, each writing its fp32 partial product to
// its own workspace slot; split_k_reduce_kernel then sums the slots in slice order and
// calls the store once per (m, n). Deterministic (no float atomics), one extra launch; the
// split depends only on the shape (gemm_split_k), so results do not vary by device.
#ifndef XCIT_CUDA_GEMM_TILE_H
#define XCIT_CUDA_GEMM_TILE_H

#include <type_traits>

#include "cuda/elementwise.h"
#include "cuda/grid.h"
#include "cuda/mma_tile.h"
#include "cuda/vec.h"

namespace xcit {

constexpr int kGemmTile = 64;
constexpr int kGemmStep = 16;
constexpr int kGemmThreads = 256;
constexpr int kGemmMmaStep = 32;  // k per staged tile of the tensor-core kernel: 2 wmma k-steps

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

// The tensor-core kernel (S = f16 / bf16). Smem: A as [m][k] and B as [n][k] in S, rows
// padded to 40 elements (80 bytes: a multiple of 16, as wmma's ldm must be, and rows that
// start in different banks); the fp32 result tile [m][n], rows of 68 floats (272 bytes).
// Every wmma pointer is a multiple of 32 bytes from the 32-byte aligned arrays: A/B at
// row 16 i (16 * 80 bytes) plus k 0 or 16 (32 bytes), C at row 16 i (16 * 272) plus
// column 16 j (64 bytes).
template <class S>
struct GemmMmaSmem {
  static constexpr int kLd = kGemmMmaStep + 8;  // A, B: S elements per row
  static constexpr int kLdc = kGemmTile + 4;    // C: floats per row
  static constexpr int kOperandBytes = kGemmTile * kLd * static_cast<int>(sizeof(S));
  static constexpr int kBytes = 2 * kOperandBytes + kGemmTile * kLdc * 4;
  static_assert(kOperandBytes % 32 == 0 && (16 * kLd * sizeof(S)) % 32 == 0 &&
                    (16 * kLdc * 4) % 32 == 0, "32-byte aligned wmma tiles");
  static_assert(kBytes <= 48 * 1024, "static shared memory limit");

  unsigned char* base;  // 32-byte aligned
  __device__ S* a(int row, int k) const { return reinterpret_cast<S*>(base) + row * kLd + k; }
  __device__ S* b(int row, int k) const {
    return reinterpret_cast<S*>(base + kOperandBytes) + row * kLd + k;
  }
  __device__ float* c(int row, int col) const {
    return reinterpret_cast<float*>(base + 2 * kOperandBytes) + row * kLdc + col;
  }
};

// Whether an operand functor stages 16-byte units (the contract above).
template <class F, class = void>
struct GemmUnits : std::false_type {};
template <class F>
struct GemmUnits<F, std::void_t<decltype(F::kUnits)>> : std::bool_constant<F::kUnits> {};

// The dense operand: row r of batch z is K contiguous elements at data + z * batch_stride +
// r * k (linear's input and weight, a tap-major conv filter, a channel-last image's pixels).
template <class T>
struct DenseRows {
  const T* data;
  int64_t batch_stride, k;
  __device__ float operator()(int64_t z, int64_t r, int64_t kk) const {
    return to_float(data[z * batch_stride + r * k + kk]);
  }
};
// The same staged in 16-byte units: K a multiple of kVec<T>, data 16-byte aligned.
template <class T>
struct DenseRowUnits : DenseRows<T> {
  static constexpr bool kUnits = true;
  __device__ void units(int64_t z, int64_t r, int64_t kk, T* dst) const {
    copy_16(dst, this->data + z * this->batch_stride + r * this->k + kk);
  }
};

// The unit of a 64 x 32 operand tile the calling thread stages: (row, k), one per thread.
template <class S>
__device__ __forceinline__ void gemm_unit_slot(int& row, int& kk) {
  constexpr int kW = kVec<S>, kPerRow = kGemmMmaStep / kW;
  static_assert(kGemmTile * kPerRow == kGemmThreads, "one unit per thread");
  row = static_cast<int>(threadIdx.x) / kPerRow;
  kk = (static_cast<int>(threadIdx.x) % kPerRow) * kW;
}

// The unit at (r, k) of an operand of `rows` x k_size into dst (16-byte aligned: shared
// memory, or registers), zeros outside the operand.
template <class S, class Load>
__device__ __forceinline__ void gemm_fetch_unit(const Load& f, S* dst, int64_t z, int64_t r, int64_t rows, int64_t k,
                                                int64_t k_size) {
  if (r < rows && k < k_size) f.units(z, r, k, dst);
  else zero_16(dst);
}

// One operand's 64 x 32 tile of the tensor-core kernel (rows r0 .. r0 + 63 of `rows`, k0 ..
// k0 + 31 of K) into `tile` ([row][k], rows GemmMmaSmem<S>::kLd apart), zeros outside, 8
// elements per thread through the functor: consecutive threads take consecutive k.
// from_float<S> is exact: the functors return values of S (the contract above).
template <class S, class Load>
__device__ __forceinline__ void gemm_stage(const Load& f, S* tile, int64_t z, int64_t r0, int64_t rows,
                                           int64_t k0, int64_t k_size) {
  constexpr int kLd = GemmMmaSmem<S>::kLd;
  for (int i = 0; i < kGemmTile * kGemmMmaStep / kGemmThreads; ++i) {
    const int idx = threadIdx.x + i * kGemmThreads;
    const int row = idx / kGemmMmaStep, kk = idx % kGemmMmaStep;
    const int64_t r = r0 + row, k = k0 + kk;
    tile[row * kLd + kk] = from_float<S>((r < rows && k < k_size) ? f(z, r, k) : 0.0f);
  }
}

template <class S, bool Folded, class ALoad, class BLoad, class Store>
__global__ void __launch_bounds__(kGemmThreads)
    gemm_mma_kernel(ALoad a, BLoad b, Store store, int64_t m_size, int64_t n_size,
                    int64_t k_size, int64_t batches) {
  using Smem = GemmMmaSmem<S>;
  __align__(32) __shared__ unsigned char smem[Smem::kBytes];
  const Smem sm{smem};
  const int tid = threadIdx.x, warp = tid / 32;
  // Warp w computes tile row w / 2 (16 rows of m) and tile columns 2 (w % 2) + {0, 1}.
  const int wm = 16 * (warp / 2), wn = 32 * (warp % 2);
  for_each_block<Folded>(ceil_div(n_size, kGemmTile), ceil_div(m_size, kGemmTile), batches,
                 [&](int64_t tile_n, int64_t tile_m, int64_t z) {
    const int64_t m0 = tile_m * kGemmTile, n0 = tile_n * kGemmTile;
    WarpTile<S> acc[2];
    acc[0].zero();
    acc[1].zero();
    // C[m, n] += sum_k A[m, k] B[n, k] over the staged k-step: wmma's B (k x n) is sm.b read
    // column-major.
    const auto mma_step = [&]() {
      for (int kk = 0; kk < kGemmMmaStep; kk += kMmaTile) {
        for (int j = 0; j < 2; ++j) {
          acc[j].template mma<RowMajor, ColMajor>(sm.a(wm, kk), Smem::kLd,
                                                  sm.b(wn + kMmaTile * j, kk), Smem::kLd);
        }
      }
    };
    static_assert(GemmUnits<ALoad>::value == GemmUnits<BLoad>::value, "both operands in units, or neither");
    if constexpr (GemmUnits<ALoad>::value) {
      // Both in units: the next k-step's units are loaded into registers while the tensor
      // cores work on this one (register double buffering), so global latency overlaps the
      // math instead of stalling every step.
      int row, kk;
      gemm_unit_slot<S>(row, kk);
      alignas(16) S next_a[kVec<S>], next_b[kVec<S>];
      gemm_fetch_unit<S>(a, next_a, z, m0 + row, m_size, kk, k_size);
      gemm_fetch_unit<S>(b, next_b, z, n0 + row, n_size, kk, k_size);
      for (int64_t k0 = 0; k0 < k_size; k0 += kGemmMmaStep) {
        copy_16(sm.a(row, kk), next_a);
        copy_16(sm.b(row, kk), next_b);
        __syncthreads();
        const int64_t k_next = k0 + kGemmMmaStep + kk;
        if (k0 + kGemmMmaStep < k_size) {
          gemm_fetch_unit<S>(a, next_a, z, m0 + row, m_size, k_next, k_size);
          gemm_fetch_unit<S>(b, next_b, z, n0 + row, n_size, k_next, k_size);
        }
        mma_step();
        __syncthreads();  // the next step overwrites the tiles
      }
    } else {
      for (int64_t k0 = 0; k0 < k_size; k0 += kGemmMmaStep) {
        gemm_stage<S>(a, sm.a(0, 0), z, m0, m_size, k0, k_size);
        gemm_stage<S>(b, sm.b(0, 0), z, n0, n_size, k0, k_size);
        __syncthreads();
        mma_step();
        __syncthreads();  // the next step overwrites the tiles
      }
    }
    for (int j = 0; j < 2; ++j) acc[j].store(sm.c(wm, wn + kMmaTile * j), Smem::kLdc);
    __syncthreads();
    // 16 elements per thread, consecutive threads on consecutive n.
    for (int r = 0; r < kGemmTile * kGemmTile / kGemmThreads; ++r) {
      const int idx = tid + r * kGemmThreads;
      const int row = idx / kGemmTile, col = idx % kGemmTile;
      const int64_t m = m0 + row, n = n0 + col;
      if (m < m_size && n < n_size) store(z, m, n, *sm.c(row, col));
    }
    // Folded: for_each_block's barrier orders these reads before the next block's writes.
  });
}

// The launch for an M x N product over `batches` z-slices (each >= 1): the logical tile
// grid, folded to the limits. Any size fits.
inline LaunchGrid gemm_grid(int64_t m, int64_t n, int64_t batches,
                            const GridLimits& limits = grid_limits()) {
  return launch_grid(ceil_div(n, kGemmTile), ceil_div(m, kGemmTile), batches, limits);
}

// Whether gemm_launch<S> takes the tensor-core kernel.
template <class S>
constexpr bool kGemmOnTensorCores = std::is_same_v<S, f16> || std::is_same_v<S, bf16>;

// Launches C (M x N, per batch) = A B^T through the functors (m, n, k, batches >= 1);
// S is the storage type every a() and b() value is exact in (see the top): float for
// CUDA cores in fp32, f16 / bf16 for tensor cores.
template <class S, class ALoad, class BLoad, class Store>
cudaError_t gemm_launch(cudaStream_t stream, const ALoad& a, const BLoad& b, const Store& store,
                        int64_t m, int64_t n, int64_t k, int64_t batches) {
  static_assert(std::is_same_v<S, float> || kGemmOnTensorCores<S>, "S: float, f16 or bf16");
  const LaunchGrid g = gemm_grid(m, n, batches);
  if constexpr (kGemmOnTensorCores<S>) {
    return xcit_launch(g.folded ? gemm_mma_kernel<S, true, ALoad, BLoad, Store>
                                : gemm_mma_kernel<S, false, ALoad, BLoad, Store>,
                       g.dims, dim3(kGemmThreads), 0, stream, a, b, store, m, n, k, batches);
  } else {
    return xcit_launch(g.folded ? gemm_tile_kernel<true, ALoad, BLoad, Store>
                                : gemm_tile_kernel<false, ALoad, BLoad, Store>,
                       g.dims, dim3(kGemmThreads), 0, stream, a, b, store, m, n, k, batches);
  }
}

// ---- split-K ---------------------------------------------------------------------------

// Tiles a split product aims for: about one wave on the largest current GPUs (H100/H200:
// 132 SMs); below this many tiles the grid leaves SMs idle and K is split.
constexpr int64_t kSplitKTargetTiles = 128;
constexpr int64_t kSplitKMax = 8;
// K per slice at least this much before rounding (the mma kernel's k-step, 32, times 4);
// the last slice may be shorter.
constexpr int64_t kSplitKMinSlice = 128;

struct SplitK {
  // splits >= 1 slices of per_split (the last one shorter); when splits > 1, per_split is a
  // multiple of 32 and splits * per_split >= k; else per_split = k.
  int64_t splits, per_split;
};

// How gemm_launch_split_k cuts K for an M x N x K product: a function of the shape only.
inline SplitK gemm_split_k(int64_t m, int64_t n, int64_t k) {
  const int64_t tiles = ceil_div(m, kGemmTile) * ceil_div(n, kGemmTile);
  int64_t splits = ceil_div(kSplitKTargetTiles, tiles < 1 ? 1 : tiles);
  if (splits > kSplitKMax) splits = kSplitKMax;
  if (splits > k / kSplitKMinSlice) splits = k / kSplitKMinSlice;
  if (splits <= 1) return SplitK{1, k};
  const int64_t per_split = ceil_div(ceil_div(k, splits), kGemmMmaStep) * kGemmMmaStep;
  return SplitK{ceil_div(k, per_split), per_split};
}

// Workspace bytes gemm_launch_split_k needs for this shape (0 when K is not split).
inline int64_t gemm_split_k_workspace_bytes(int64_t m, int64_t n, int64_t k) {
  const SplitK s = gemm_split_k(m, n, k);
  return s.splits <= 1 ? 0 : s.splits * m * n * static_cast<int64_t>(sizeof(float));
}

// Operand of slice z: k within the slice, zero past the end of K. Units pass through (a
// slice is a multiple of 32 long, so a unit never straddles two; K % 8 == 0, nor the end).
template <class Load>
struct KSlice {
  static constexpr bool kUnits = GemmUnits<Load>::value;
  Load load;
  int64_t k_size, per_split;
  __device__ float operator()(int64_t z, int64_t row, int64_t k) const {
    const int64_t kk = z * per_split + k;
    return kk < k_size ? load(0, row, kk) : 0.0f;
  }
  template <class S>
  __device__ void units(int64_t z, int64_t row, int64_t k, S* dst) const {
    const int64_t kk = z * per_split + k;
    if (kk < k_size) load.units(0, row, kk, dst);
    else zero_16(dst);
  }
};

// Slice z's partial product into its slot of the workspace.
struct SliceSlots {
  float* workspace;
  int64_t m_size, n_size;
  __device__ void operator()(int64_t z, int64_t m, int64_t n, float acc) const {
    workspace[(z * m_size + m) * n_size + n] = acc;
  }
};

template <class Store>
__global__ void split_k_reduce_kernel(Store store, const float* workspace, int64_t m_size,
                                      int64_t n_size, int64_t splits) {
  const int64_t slot = m_size * n_size;
  for (int64_t e = grid_start(); e < slot; e += grid_stride()) {
    float acc = 0.0f;
    for (int64_t s = 0; s < splits; ++s) acc += workspace[s * slot + e];
    store(0, e / n_size, e % n_size, acc);
  }
}

// C (M x N) = A B^T as gemm_launch<S> with batches = 1, K split as gemm_split_k says;
// workspace: gemm_split_k_workspace_bytes(m, n, k) bytes (unused, may be null, when 0).
template <class S, class ALoad, class BLoad, class Store>
cudaError_t gemm_launch_split_k(cudaStream_t stream, const ALoad& a, const BLoad& b,
                                const Store& store, int64_t m, int64_t n, int64_t k,
                                float* workspace) {
  const SplitK s = gemm_split_k(m, n, k);
  if (s.splits <= 1) return gemm_launch<S>(stream, a, b, store, m, n, k, 1);
  cudaError_t err = gemm_launch<S>(stream, KSlice<ALoad>{a, k, s.per_split},
                                   KSlice<BLoad>{b, k, s.per_split}, SliceSlots{workspace, m, n},
                                   m, n, s.per_split, s.splits);
  if (err != cudaSuccess) return err;
  return xcit_launch(split_k_reduce_kernel<Store>, elementwise_grid(m * n),
                     dim3(kElementwiseThreads), 0, stream, store,
                     static_cast<const float*>(workspace), m, n, s.splits);
}

}  // namespace xcit

#endif  // XCIT_CUDA_GEMM_TILE_H
