// LayerNorm of a row, the pieces layernorm.cu and class_attention_rows.cu share, in two
// forms. Statistics are fp32 and two-pass (the mean, then the mean squared deviation from
// it: no E[x^2] - E[x]^2 cancellation), each reduced in a fixed order (reduce.h), whatever
// the storage type. The CPU reference is src/cpu/layernorm.c.
//
// - A row per warp, in registers (WarpRow): rows of 16-byte runs (vec.h) up to kWarpRowMax
//   elements, every zoo width (128 to 768). Lane l holds the runs l, l + 32, ...; the row is
//   read from global memory once, reduced by shuffles (no shared memory, no barrier) and
//   written once. kWarpRowsPerBlock rows per block.
// - A row per block (row_stats, row_normalize): longer or misaligned rows. A thread visits
//   the runs of W elements (W = 1, or kVec<T>) starting at W * threadIdx.x and stepping
//   W * blockDim.x, so it always touches the same elements of a row: a thread that re-reads
//   what it wrote itself needs no barrier.
#ifndef XCIT_CUDA_ROW_NORM_H
#define XCIT_CUDA_ROW_NORM_H

#include <type_traits>

#include "cuda/grid.h"
#include "cuda/reduce.h"
#include "cuda/vec.h"

namespace xcit {

// ---- A row per block --------------------------------------------------------------

// 256 threads keep a 384-wide row (XCiT-S/M) to 1.5 elements per thread while staying
// small enough for many resident blocks; narrower rows use fewer warps.
constexpr int kRowThreads = 256;

// Threads for a row of cols >= 1 elements taken W at a time: whole warps, at most kRowThreads.
inline int row_threads(int64_t cols, int w) {
  const int64_t warps = ceil_div(ceil_div(cols, w), kWarp);
  return static_cast<int>(warps * kWarp < kRowThreads ? warps * kWarp : kRowThreads);
}

template <int W, class F>
__device__ __forceinline__ void for_each_run(int64_t cols, F&& f) {
  for (int64_t c = static_cast<int64_t>(threadIdx.x) * W; c < cols; c += static_cast<int64_t>(blockDim.x) * W) f(c);
}

// mean and 1 / sqrt(var + eps) of row's cols elements (biased var); scratch: 33 floats of
// shared memory (block_sum). Ends with a barrier, so afterwards any thread may write the row.
template <class T, int W>
__device__ __forceinline__ void row_stats(const T* row, int64_t cols, float eps, float* scratch, float& mean,
                                          float& rstd) {
  float sum = 0.0f;
  for_each_run<W>(cols, [&](int64_t c) {
    float v[W];
    load_n<T, W>(row + c, v);
    for (int i = 0; i < W; ++i) sum += v[i];
  });
  mean = block_sum(sum, scratch) / static_cast<float>(cols);
  float squares = 0.0f;
  for_each_run<W>(cols, [&](int64_t c) {
    float v[W];
    load_n<T, W>(row + c, v);
    for (int i = 0; i < W; ++i) {
      const float d = v[i] - mean;
      squares += d * d;
    }
  });
  rstd = rsqrtf(block_sum(squares, scratch) / static_cast<float>(cols) + eps);
}

// dst = (row - mean) * rstd * gamma + beta element by element, one rounding; dst may be row.
template <class T, int W>
__device__ __forceinline__ void row_normalize(T* dst, const T* row, const T* gamma, const T* beta, int64_t cols,
                                              float mean, float rstd) {
  for_each_run<W>(cols, [&](int64_t c) {
    float v[W], g[W], b[W];
    load_n<T, W>(row + c, v);
    load_n<T, W>(gamma + c, g);
    load_n<T, W>(beta + c, b);
    for (int i = 0; i < W; ++i) v[i] = (v[i] - mean) * rstd * g[i] + b[i];
    store_n<T, W>(dst + c, v);
  });
}

// ---- A row per warp ---------------------------------------------------------------

constexpr int kWarpRowFloats = 32;  // R * W: registers per lane for a row
constexpr int64_t kWarpRowMax = int64_t{kWarp} * kWarpRowFloats;
constexpr int kWarpRowsPerBlock = 4;
constexpr int kWarpRowThreads = kWarpRowsPerBlock * kWarp;

// The calling lane's share of a row of `cols` elements: at most R runs of W = kVec<T>.
// stats() shuffles: every lane of the warp calls it.
template <class T, int R>
struct WarpRow {
  static constexpr int W = kVec<T>;
  static_assert(R * W <= kWarpRowFloats, "the row fits the lane's registers");
  float v[R][W];
  int64_t cols;
  int lane;

  __device__ __forceinline__ WarpRow(int64_t cols_, int lane_) : cols(cols_), lane(lane_) {}

  // body(i, c) for each run i the lane holds, c its first column.
  template <class F>
  __device__ __forceinline__ void runs(F&& body) const {
    for (int i = 0; i < R; ++i) {
      const int64_t c = (static_cast<int64_t>(i) * kWarp + lane) * W;
      if (c >= cols) break;
      body(i, c);
    }
  }
  __device__ __forceinline__ void load(const T* row) {
    runs([&](int i, int64_t c) { load_n<T, W>(row + c, v[i]); });
  }
  __device__ __forceinline__ void store(T* row) const {
    runs([&](int i, int64_t c) { store_n<T, W>(row + c, v[i]); });
  }
  // Each value rounded to T: what storing the row and loading it back gives.
  __device__ __forceinline__ void round() {
    runs([&](int i, int64_t) {
      for (int j = 0; j < W; ++j) v[i][j] = to_float(from_float<T>(v[i][j]));
    });
  }
  __device__ __forceinline__ void stats(float eps, float& mean, float& rstd) const {
    float sum = 0.0f;
    runs([&](int i, int64_t) {
      for (int j = 0; j < W; ++j) sum += v[i][j];
    });
    mean = warp_sum(sum) / static_cast<float>(cols);
    float squares = 0.0f;
    runs([&](int i, int64_t) {
      for (int j = 0; j < W; ++j) {
        const float d = v[i][j] - mean;
        squares += d * d;
      }
    });
    rstd = rsqrtf(warp_sum(squares) / static_cast<float>(cols) + eps);
  }
  // v = (v - mean) * rstd * gamma + beta, in fp32 (rounded when stored).
  __device__ __forceinline__ void normalize(const T* gamma, const T* beta, float mean, float rstd) {
    runs([&](int i, int64_t c) {
      float g[W], b[W];
      load_n<T, W>(gamma + c, g);
      load_n<T, W>(beta + c, b);
      for (int j = 0; j < W; ++j) v[i][j] = (v[i][j] - mean) * rstd * g[j] + b[j];
    });
  }
};

// body(row, lane) for each row a warp of this launch takes: logical blocks (grid.h) of
// kWarpRowsPerBlock rows, warp w of a block on its row w; warps past the last row skip it.
template <bool Folded, class Body>
__device__ __forceinline__ void for_each_warp_row(int64_t rows, Body&& body) {
  for_each_block<Folded>(ceil_div(rows, int64_t{kWarpRowsPerBlock}), 1, 1, [&](int64_t block, int64_t, int64_t) {
    const int64_t row = block * kWarpRowsPerBlock + static_cast<int>(threadIdx.x) / kWarp;
    if (row < rows) body(row, static_cast<int>(threadIdx.x) % kWarp);
  });
}

// The launch of a warp-per-row kernel over `rows` rows (blocks of kWarpRowThreads).
inline LaunchGrid warp_row_grid(int64_t rows) { return launch_grid(ceil_div(rows, int64_t{kWarpRowsPerBlock})); }

// Whether rows of cols elements take WarpRow: `vector` (vector_rows holds), at most
// kWarpRowMax elements.
inline bool warp_rows(int64_t cols, bool vector) {
  return vector && cols <= kWarpRowMax;
}

// launch(std::integral_constant<int, R>{}) for the fewest runs per lane R of 1, 2, 4 or 8
// (R * kVec<T> <= kWarpRowFloats) that hold a row of cols elements (warp_rows holds).
template <class T, class Launch>
inline cudaError_t with_warp_row_runs(int64_t cols, Launch&& launch) {
  const int64_t per_lane = ceil_div(cols / kVec<T>, int64_t{kWarp});
  if (per_lane <= 1) return launch(std::integral_constant<int, 1>{});
  if (per_lane <= 2) return launch(std::integral_constant<int, 2>{});
  if constexpr (kWarpRowFloats / kVec<T> >= 8) {
    if (per_lane > 4) return launch(std::integral_constant<int, 8>{});
  }
  return launch(std::integral_constant<int, 4>{});
}

}  // namespace xcit

#endif  // XCIT_CUDA_ROW_NORM_H
