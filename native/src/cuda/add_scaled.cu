// x += scale * y with a per-column scale (layer scale gamma of a residual branch), for
// fp32/fp16/bf16 (xcit_cuda.h). Where the next op is a LayerNorm the backend uses the
// fused residual_layernorm (layernorm.cu) instead; this is the class-attention path.
#include "cuda/cuda_check.h"
#include "cuda/elementwise.h"
#include "xcit/xcit_cuda.h"

namespace {

template <class T>
__global__ void add_scaled_kernel(T* x, const T* y, const T* scale, int64_t rows, int64_t cols) {
  for (int64_t r = xcit::outer_start(); r < rows; r += xcit::outer_stride()) {
    for (int64_t c = xcit::grid_start(); c < cols; c += xcit::grid_stride()) {
      const int64_t i = r * cols + c;
      const float s = scale != nullptr ? xcit::to_float(scale[c]) : 1.0f;
      x[i] = xcit::from_float<T>(xcit::to_float(x[i]) + s * xcit::to_float(y[i]));
    }
  }
}

template <class T, class S>
xcit_status add_scaled_entry(const char* op, xcit_ctx* ctx, S* x, const S* y, const S* scale,
                             int64_t rows, int64_t cols) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, op, "x", x)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "y", y)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, rows, cols)) != XCIT_OK) {
    return st;
  }
  if (rows == 0 || cols == 0) return XCIT_OK;
  const xcit::OuterInner launch = xcit::outer_inner_launch(rows, cols);
  return xcit_cuda_launched(
      ctx, op,
      xcit_launch(add_scaled_kernel<T>, launch.grid,
                  launch.block, 0, xcit_cuda_stream(ctx),
                  reinterpret_cast<T*>(x), reinterpret_cast<const T*>(y),
                  reinterpret_cast<const T*>(scale), rows, cols));
}

}  // namespace

xcit_status xcit_cuda_add_scaled_f32(xcit_ctx* ctx, float* x, const float* y, const float* scale,
                                     int64_t rows, int64_t cols) {
  return add_scaled_entry<float>("xcit_cuda_add_scaled_f32", ctx, x, y, scale, rows, cols);
}
xcit_status xcit_cuda_add_scaled_f16(xcit_ctx* ctx, uint16_t* x, const uint16_t* y,
                                     const uint16_t* scale, int64_t rows, int64_t cols) {
  return add_scaled_entry<xcit::f16>("xcit_cuda_add_scaled_f16", ctx, x, y, scale, rows, cols);
}
xcit_status xcit_cuda_add_scaled_bf16(xcit_ctx* ctx, uint16_t* x, const uint16_t* y,
                                      const uint16_t* scale, int64_t rows, int64_t cols) {
  return add_scaled_entry<xcit::bf16>("xcit_cuda_add_scaled_bf16", ctx, x, y, scale, rows, cols);
}
