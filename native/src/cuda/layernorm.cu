// LayerNorm over the last dimension, optionally fused with the residual update that
// precedes a LayerNorm (x += gamma * y; u = LN(x)), for fp32, fp16 and bf16 storage
// (xcit_cuda.h). kernels -> launch -> exported entries; the CPU reference is
// src/cpu/layernorm.c. Statistics are fp32 and two-pass whatever the storage type, and
// rows move in 16-byte vectors where every pointer is 16-byte aligned and the row length
// a multiple of 8 (fp16/bf16) or 4 (fp32) elements (vec.h), else element by element.
//
// Two kernels (row_norm.h). Rows of vectors up to 1024 elements (every zoo width) take a
// warp each, the row in registers: read once, reduced by shuffles, written once. At
// xcit_small_12_p16, 224, batch 256 that is 50,432 rows of 384: the block-per-row kernel
// gave each row 2 warps, 2 block reductions (4 barriers) and 3 reads of it; the H200 run
// measured 108 us per launch for its 256-thread predecessor, 6x the 18 us of its 77 MB at
// 4.3 TB/s. Other rows (longer, or misaligned: element accesses) take a block each.
#include "cuda/cuda_check.h"
#include "cuda/grid.h"
#include "cuda/row_norm.h"
#include "xcit/xcit_cuda.h"

namespace {

// One logical block per row of `cols` elements (rows fold into gridDim.x, grid.h), for the
// rows the warp kernel below does not take. With Residual, first x[c] = T(x[c] + scale[c] *
// y[c]) (scale NULL means 1): the rounded T value is what the LayerNorm then reads, so the
// result equals add_scaled followed by layernorm exactly. Each thread re-reads only
// elements it wrote itself (row_norm.h), so the residual pass needs no barrier; the
// statistics end with a barrier before any write to out, which makes out == x (plain
// LayerNorm in place) safe.
template <class T, bool Residual, bool Folded, int W>
__global__ void __launch_bounds__(xcit::kRowThreads)
    layernorm_kernel(T* out, T* x, const T* y, const T* scale, const T* gamma, const T* beta,
                     int64_t rows, int64_t cols, float eps) {
  __shared__ float scratch[xcit::kWarp + 1];
  xcit::for_each_block<Folded>(rows, 1, 1, [&](int64_t r, int64_t, int64_t) {
    const int64_t offset = r * cols;
    T* row = x + offset;
    if (Residual) {
      xcit::for_each_run<W>(cols, [&](int64_t c) {
        float v[W], d[W], s[W];
        xcit::load_n<T, W>(row + c, v);
        xcit::load_n<T, W>(y + offset + c, d);
        if (scale != nullptr) xcit::load_n<T, W>(scale + c, s);
        for (int i = 0; i < W; ++i) v[i] += (scale != nullptr ? s[i] : 1.0f) * d[i];
        xcit::store_n<T, W>(row + c, v);
      });
    }
    float mean, rstd;
    xcit::row_stats<T, W>(row, cols, eps, scratch, mean, rstd);
    xcit::row_normalize<T, W>(out + offset, row, gamma, beta, cols, mean, rstd);
  });
}

// A warp per row (row_norm.h WarpRow), kWarpRowsPerBlock rows per block: the arithmetic of
// layernorm_kernel, with Residual x rounded to T before the statistics as layernorm_kernel
// reads it back.
template <class T, bool Residual, bool Folded, int R>
__global__ void __launch_bounds__(xcit::kWarpRowThreads)
    layernorm_warp_kernel(T* out, T* x, const T* y, const T* scale, const T* gamma, const T* beta,
                          int64_t rows, int64_t cols, float eps) {
  using Row = xcit::WarpRow<T, R>;
  constexpr int W = Row::W;
  xcit::for_each_warp_row<Folded>(rows, [&](int64_t r, int lane) {
    const int64_t offset = r * cols;
    Row row(cols, lane);
    row.load(x + offset);
    if (Residual) {
      row.runs([&](int i, int64_t c) {
        float d[W], s[W];
        xcit::load_n<T, W>(y + offset + c, d);
        if (scale != nullptr) xcit::load_n<T, W>(scale + c, s);
        for (int j = 0; j < W; ++j) row.v[i][j] += (scale != nullptr ? s[j] : 1.0f) * d[j];
      });
      row.round();
      row.store(x + offset);
    }
    float mean, rstd;
    row.stats(eps, mean, rstd);
    row.normalize(gamma, beta, mean, rstd);
    row.store(out + offset);
  });
}

// rows >= 1, cols >= 1.
template <class T, bool Residual>
cudaError_t layernorm_launch(cudaStream_t stream, T* out, T* x, const T* y, const T* scale,
                             const T* gamma, const T* beta, int64_t rows, int64_t cols,
                             float eps) {
  constexpr int V = xcit::kVec<T>;
  const bool vec = xcit::vector_rows<T>(cols, {out, x, y, scale, gamma, beta});
  if (xcit::warp_rows(cols, vec)) {
    const xcit::LaunchGrid g = xcit::warp_row_grid(rows);
    return xcit::with_warp_row_runs<T>(cols, [&](auto runs) {
      constexpr int R = decltype(runs)::value;
      auto kernel = g.folded ? layernorm_warp_kernel<T, Residual, true, R>
                             : layernorm_warp_kernel<T, Residual, false, R>;
      return xcit_launch(kernel, g.dims, dim3(xcit::kWarpRowThreads), 0, stream, out, x, y, scale,
                         gamma, beta, rows, cols, eps);
    });
  }
  const xcit::LaunchGrid g = xcit::launch_grid(rows);
  auto kernel = g.folded ? (vec ? layernorm_kernel<T, Residual, true, V> : layernorm_kernel<T, Residual, true, 1>)
                         : (vec ? layernorm_kernel<T, Residual, false, V> : layernorm_kernel<T, Residual, false, 1>);
  return xcit_launch(kernel, g.dims, dim3(xcit::row_threads(cols, vec ? V : 1)), 0, stream, out, x, y, scale,
                     gamma, beta, rows, cols, eps);
}

template <class T, bool Residual>
xcit_status layernorm_entry(const char* op, xcit_ctx* ctx, T* out, T* x, const T* y,
                            const T* scale, const T* gamma, const T* beta, int64_t rows,
                            int64_t cols, float eps) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, Residual ? "x" : "out", Residual ? x : out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, Residual ? "out" : "in", Residual ? out : x)) != XCIT_OK ||
      (Residual && (st = xcit_check_ptr(ctx, op, "y", y)) != XCIT_OK) ||
      (st = xcit_check_ptr(ctx, op, "gamma", gamma)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "beta", beta)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, rows, cols)) != XCIT_OK ||
      (st = xcit_check_eps(ctx, op, eps)) != XCIT_OK) {
    return st;
  }
  if (Residual && out == x) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT,
                     "%s: out aliases x (x keeps the residual stream)", op);
  }
  if (rows == 0) return XCIT_OK;
  return xcit_cuda_launched(ctx, op,
                            layernorm_launch<T, Residual>(xcit_cuda_stream(ctx), out, x, y, scale,
                                                          gamma, beta, rows, cols, eps));
}

template <class T, class S>
xcit_status plain(const char* op, xcit_ctx* ctx, S* out, const S* in, const S* gamma,
                  const S* beta, int64_t rows, int64_t cols, float eps) {
  // The plain LayerNorm is the residual kernel without the residual: x = in (read only).
  return layernorm_entry<T, false>(op, ctx, reinterpret_cast<T*>(out),
                                   const_cast<T*>(reinterpret_cast<const T*>(in)), nullptr,
                                   nullptr, reinterpret_cast<const T*>(gamma),
                                   reinterpret_cast<const T*>(beta), rows, cols, eps);
}

template <class T, class S>
xcit_status residual(const char* op, xcit_ctx* ctx, S* x, S* out, const S* y, const S* scale,
                     const S* gamma, const S* beta, int64_t rows, int64_t cols, float eps) {
  return layernorm_entry<T, true>(op, ctx, reinterpret_cast<T*>(out), reinterpret_cast<T*>(x),
                                  reinterpret_cast<const T*>(y),
                                  reinterpret_cast<const T*>(scale),
                                  reinterpret_cast<const T*>(gamma),
                                  reinterpret_cast<const T*>(beta), rows, cols, eps);
}

}  // namespace

xcit_status xcit_cuda_layernorm_f32(xcit_ctx* ctx, float* out, const float* in,
                                    const float* gamma, const float* beta, int64_t rows,
                                    int64_t cols, float eps) {
  return plain<float>("xcit_cuda_layernorm_f32", ctx, out, in, gamma, beta, rows, cols, eps);
}
xcit_status xcit_cuda_layernorm_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                    const uint16_t* gamma, const uint16_t* beta, int64_t rows,
                                    int64_t cols, float eps) {
  return plain<xcit::f16>("xcit_cuda_layernorm_f16", ctx, out, in, gamma, beta, rows, cols, eps);
}
xcit_status xcit_cuda_layernorm_bf16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                     const uint16_t* gamma, const uint16_t* beta, int64_t rows,
                                     int64_t cols, float eps) {
  return plain<xcit::bf16>("xcit_cuda_layernorm_bf16", ctx, out, in, gamma, beta, rows, cols,
                           eps);
}

xcit_status xcit_cuda_residual_layernorm_f32(xcit_ctx* ctx, float* x, float* out,
                                             const float* y, const float* scale,
                                             const float* gamma, const float* beta,
                                             int64_t rows, int64_t cols, float eps) {
  return residual<float>("xcit_cuda_residual_layernorm_f32", ctx, x, out, y, scale, gamma, beta,
                         rows, cols, eps);
}
xcit_status xcit_cuda_residual_layernorm_f16(xcit_ctx* ctx, uint16_t* x, uint16_t* out,
                                             const uint16_t* y, const uint16_t* scale,
                                             const uint16_t* gamma, const uint16_t* beta,
                                             int64_t rows, int64_t cols, float eps) {
  return residual<xcit::f16>("xcit_cuda_residual_layernorm_f16", ctx, x, out, y, scale, gamma,
                             beta, rows, cols, eps);
}
xcit_status xcit_cuda_residual_layernorm_bf16(xcit_ctx* ctx, uint16_t* x, uint16_t* out,
                                              const uint16_t* y, const uint16_t* scale,
                                              const uint16_t* gamma, const uint16_t* beta,
                                              int64_t rows, int64_t cols, float eps) {
  return residual<xcit::bf16>("xcit_cuda_residual_layernorm_bf16", ctx, x, out, y, scale, gamma,
                              beta, rows, cols, eps);
}
