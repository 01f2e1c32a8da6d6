// The row-wise part of a class-attention block (Backend.classAttentionRows, xcit_cuda.h)
// for fp32/fp16/bf16, in one pass over the stage's rows instead of five ops (LayerNorm,
// gather of the cls row, add_scaled, LayerNorm, scatter). Per row t of image b of
// x (batch, rows, C), cls token in row 0 (spec 4):
//   u[b, t] = LN1(x[b, t])                                   every row
//   cls[b]  = x[b, 0]                                        the cls residual, unchanged
//   x[b, t] = LN2(x[b, t] + gamma1 * u[b, t])  for t >= 1     LN2 only with tokens_norm
// The patch rows' attention branch is u itself (spec 4), so their whole update is local to
// the row; the cls row's needs the attention and is left to the ops that follow. The CPU
// reference is the composition Backend.classAttentionRows defaults to, i.e. the CPU
// backend's LayerNorm and add_scaled ops (tests/emu/test_emu_class_attention.cpp).
//
// LayerNorm as layernorm.cu (row_norm.h: fp32 two-pass statistics, 16-byte vectors where
// every pointer is aligned and C a multiple of 8 (16-bit) or 4 (fp32) elements): a warp per
// row held in registers where the rows take vectors and C <= 1024 (read once, written once
// as u and x), else a block per row. x + gamma1 * u uses u as stored (one rounding, as the
// unfused ops) and, like them, x is rounded to T before LN2's statistics.
#include "cuda/cuda_check.h"
#include "cuda/grid.h"
#include "cuda/row_norm.h"
#include "xcit/xcit_cuda.h"

namespace {

template <class T>
struct Params {
  T* x;
  T* u;
  T* cls;
  const T *ln1_gamma, *ln1_beta, *gamma1, *ln2_gamma, *ln2_beta;
  int64_t rows, cols;
  float eps;
};

template <class T, bool Folded, int W>
__global__ void __launch_bounds__(xcit::kRowThreads) class_attention_rows_kernel(Params<T> p, int64_t total) {
  __shared__ float scratch[xcit::kWarp + 1];
  xcit::for_each_block<Folded>(total, 1, 1, [&](int64_t r, int64_t, int64_t) {
    const int64_t offset = r * p.cols, t = r % p.rows;
    T* x = p.x + offset;
    T* u = p.u + offset;
    float mean, rstd;
    xcit::row_stats<T, W>(x, p.cols, p.eps, scratch, mean, rstd);
    xcit::row_normalize<T, W>(u, x, p.ln1_gamma, p.ln1_beta, p.cols, mean, rstd);
    if (t == 0) {  // block-uniform: the whole block holds this row
      T* cls = p.cls + (r / p.rows) * p.cols;
      xcit::for_each_run<W>(p.cols, [&](int64_t c) {
        float v[W];
        xcit::load_n<T, W>(x + c, v);
        xcit::store_n<T, W>(cls + c, v);
      });
      return;
    }
    // Each thread reads back only the u and x elements it wrote (row_norm.h): no barrier.
    xcit::for_each_run<W>(p.cols, [&](int64_t c) {
      float v[W], a[W], g[W];
      xcit::load_n<T, W>(x + c, v);
      xcit::load_n<T, W>(u + c, a);
      xcit::load_n<T, W>(p.gamma1 + c, g);
      for (int i = 0; i < W; ++i) v[i] += g[i] * a[i];
      xcit::store_n<T, W>(x + c, v);
    });
    if (p.ln2_gamma == nullptr) return;
    xcit::row_stats<T, W>(x, p.cols, p.eps, scratch, mean, rstd);
    xcit::row_normalize<T, W>(x, x, p.ln2_gamma, p.ln2_beta, p.cols, mean, rstd);
  });
}

// The same per row with a warp per row (row_norm.h WarpRow), kWarpRowsPerBlock per block.
template <class T, bool Folded, int R>
__global__ void __launch_bounds__(xcit::kWarpRowThreads)
    class_attention_rows_warp_kernel(Params<T> p, int64_t total) {
  using Row = xcit::WarpRow<T, R>;
  constexpr int W = Row::W;
  xcit::for_each_warp_row<Folded>(total, [&](int64_t r, int lane) {
    const int64_t offset = r * p.cols, t = r % p.rows;
    Row x(p.cols, lane);
    x.load(p.x + offset);
    float mean, rstd;
    x.stats(p.eps, mean, rstd);
    Row u = x;
    u.normalize(p.ln1_gamma, p.ln1_beta, mean, rstd);
    u.round();
    u.store(p.u + offset);
    if (t == 0) {  // warp-uniform: the whole warp holds this row
      x.store(p.cls + (r / p.rows) * p.cols);
      return;
    }
    x.runs([&](int i, int64_t c) {
      float g[W];
      xcit::load_n<T, W>(p.gamma1 + c, g);
      for (int j = 0; j < W; ++j) x.v[i][j] += g[j] * u.v[i][j];
    });
    if (p.ln2_gamma != nullptr) {
      x.round();
      x.stats(p.eps, mean, rstd);
      x.normalize(p.ln2_gamma, p.ln2_beta, mean, rstd);
    }
    x.store(p.x + offset);
  });
}

template <class T, class S>
xcit_status rows_entry(const char* op, xcit_ctx* ctx, S* x, S* u, S* cls, const S* ln1_gamma,
                       const S* ln1_beta, const S* gamma1, const S* ln2_gamma, const S* ln2_beta,
                       int64_t batch, int64_t rows, int64_t cols, float eps) {
  xcit_status st;
  const void* required[] = {x, u, cls, ln1_gamma, ln1_beta, gamma1};
  const char* names[] = {"x", "u", "cls", "ln1_gamma", "ln1_beta", "gamma1"};
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK) return st;
  for (int i = 0; i < 6; ++i) {
    if ((st = xcit_check_ptr(ctx, op, names[i], required[i])) != XCIT_OK) return st;
  }
  if ((st = xcit_check_matrix(ctx, op, batch, rows)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * rows, cols)) != XCIT_OK ||
      (st = xcit_check_eps(ctx, op, eps)) != XCIT_OK) {
    return st;
  }
  if ((ln2_gamma == nullptr) != (ln2_beta == nullptr)) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: ln2_gamma and ln2_beta must both be NULL or both not", op);
  }
  if (u == x || cls == x) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: %s aliases x", op, u == x ? "u" : "cls");
  }
  const int64_t total = batch * rows;
  if (total == 0 || cols == 0) return XCIT_OK;
  const Params<T> p{reinterpret_cast<T*>(x),
                    reinterpret_cast<T*>(u),
                    reinterpret_cast<T*>(cls),
                    reinterpret_cast<const T*>(ln1_gamma),
                    reinterpret_cast<const T*>(ln1_beta),
                    reinterpret_cast<const T*>(gamma1),
                    reinterpret_cast<const T*>(ln2_gamma),
                    reinterpret_cast<const T*>(ln2_beta),
                    rows,
                    cols,
                    eps};
  constexpr int V = xcit::kVec<T>;
  const bool vec = xcit::vector_rows<T>(cols, {x, u, cls, ln1_gamma, ln1_beta, gamma1, ln2_gamma, ln2_beta});
  if (xcit::warp_rows(cols, vec)) {
    const xcit::LaunchGrid g = xcit::warp_row_grid(total);
    return xcit_cuda_launched(ctx, op, xcit::with_warp_row_runs<T>(cols, [&](auto runs) {
      constexpr int R = decltype(runs)::value;
      auto kernel = g.folded ? class_attention_rows_warp_kernel<T, true, R>
                             : class_attention_rows_warp_kernel<T, false, R>;
      return xcit_launch(kernel, g.dims, dim3(xcit::kWarpRowThreads), 0, xcit_cuda_stream(ctx), p,
                         total);
    }));
  }
  const xcit::LaunchGrid g = xcit::launch_grid(total);
  auto kernel = g.folded ? (vec ? class_attention_rows_kernel<T, true, V> : class_attention_rows_kernel<T, true, 1>)
                         : (vec ? class_attention_rows_kernel<T, false, V> : class_attention_rows_kernel<T, false, 1>);
  return xcit_cuda_launched(ctx, op,
                            xcit_launch(kernel, g.dims, dim3(xcit::row_threads(cols, vec ? V : 1)), 0,
                                        xcit_cuda_stream(ctx), p, total));
}

}  // namespace

xcit_status xcit_cuda_class_attention_rows_f32(xcit_ctx* ctx, float* x, float* u, float* cls,
                                               const float* ln1_gamma, const float* ln1_beta,
                                               const float* gamma1, const float* ln2_gamma,
                                               const float* ln2_beta, int64_t batch, int64_t rows,
                                               int64_t cols, float eps) {
  return rows_entry<float>("xcit_cuda_class_attention_rows_f32", ctx, x, u, cls, ln1_gamma, ln1_beta,
                           gamma1, ln2_gamma, ln2_beta, batch, rows, cols, eps);
}
xcit_status xcit_cuda_class_attention_rows_f16(xcit_ctx* ctx, uint16_t* x, uint16_t* u, uint16_t* cls,
                                               const uint16_t* ln1_gamma, const uint16_t* ln1_beta,
                                               const uint16_t* gamma1, const uint16_t* ln2_gamma,
                                               const uint16_t* ln2_beta, int64_t batch, int64_t rows,
                                               int64_t cols, float eps) {
  return rows_entry<xcit::f16>("xcit_cuda_class_attention_rows_f16", ctx, x, u, cls, ln1_gamma, ln1_beta,
                               gamma1, ln2_gamma, ln2_beta, batch, rows, cols, eps);
}
xcit_status xcit_cuda_class_attention_rows_bf16(xcit_ctx* ctx, uint16_t* x, uint16_t* u, uint16_t* cls,
                                                const uint16_t* ln1_gamma, const uint16_t* ln1_beta,
                                                const uint16_t* gamma1, const uint16_t* ln2_gamma,
                                                const uint16_t* ln2_beta, int64_t batch, int64_t rows,
                                                int64_t cols, float eps) {
  return rows_entry<xcit::bf16>("xcit_cuda_class_attention_rows_bf16", ctx, x, u, cls, ln1_gamma,
                                ln1_beta, gamma1, ln2_gamma, ln2_beta, batch, rows, cols, eps);
}
