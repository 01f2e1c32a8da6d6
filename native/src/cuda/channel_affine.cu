// x = x * scale + shift per channel, in place: the inference BatchNorm of the dense
// stride-4 branch (ConvT -> BN -> GELU -> ConvT), for fp32/fp16/bf16 (xcit_cuda.h).
#include "cuda/cuda_check.h"
#include "cuda/elementwise.h"
#include "xcit/xcit_cuda.h"

namespace {

template <class T>
__global__ void channel_affine_kernel(T* x, const T* scale, const T* shift, int64_t rows,
                                      int64_t cols) {
  for (int64_t r = xcit::outer_start(); r < rows; r += xcit::outer_stride()) {
    for (int64_t c = xcit::grid_start(); c < cols; c += xcit::grid_stride()) {
      const int64_t i = r * cols + c;
      x[i] = xcit::from_float<T>(
          fmaf(xcit::to_float(x[i]), xcit::to_float(scale[c]), xcit::to_float(shift[c])));
    }
  }
}

template <class T, class S>
xcit_status channel_affine_entry(const char* op, xcit_ctx* ctx, S* x, const S* scale,
                                 const S* shift, int64_t rows, int64_t cols) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, op, "x", x)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "scale", scale)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "shift", shift)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, rows, cols)) != XCIT_OK) {
    return st;
  }
  if (rows == 0 || cols == 0) return XCIT_OK;
  const xcit::OuterInner launch = xcit::outer_inner_launch(rows, cols);
  return xcit_cuda_launched(
      ctx, op,
      xcit_launch(channel_affine_kernel<T>, launch.grid,
                  launch.block, 0, xcit_cuda_stream(ctx),
                  reinterpret_cast<T*>(x), reinterpret_cast<const T*>(scale),
                  reinterpret_cast<const T*>(shift), rows, cols));
}

}  // namespace

xcit_status xcit_cuda_channel_affine_f32(xcit_ctx* ctx, float* x, const float* scale,
                                         const float* shift, int64_t rows, int64_t cols) {
  return channel_affine_entry<float>("xcit_cuda_channel_affine_f32", ctx, x, scale, shift, rows,
                                     cols);
}
xcit_status xcit_cuda_channel_affine_f16(xcit_ctx* ctx, uint16_t* x, const uint16_t* scale,
                                         const uint16_t* shift, int64_t rows, int64_t cols) {
  return channel_affine_entry<xcit::f16>("xcit_cuda_channel_affine_f16", ctx, x, scale, shift,
                                         rows, cols);
}
xcit_status xcit_cuda_channel_affine_bf16(xcit_ctx* ctx, uint16_t* x, const uint16_t* scale,
                                          const uint16_t* shift, int64_t rows, int64_t cols) {
  return channel_affine_entry<xcit::bf16>("xcit_cuda_channel_affine_bf16", ctx, x, scale, shift,
                                          rows, cols);
}
