// x (images, per_image) += rows (per_image): the positional encoding added to every
// image of the batch, for fp32/fp16/bf16 (xcit_cuda.h).
#include "cuda/cuda_check.h"
#include "cuda/elementwise.h"
#include "xcit/xcit_cuda.h"

namespace {

template <class T>
__global__ void add_broadcast_kernel(T* x, const T* rows, int64_t n, int64_t per_image) {
  for (int64_t i = xcit::grid_start(); i < n; i += xcit::grid_stride()) {
    x[i] = xcit::from_float<T>(xcit::to_float(x[i]) + xcit::to_float(rows[i % per_image]));
  }
}

template <class T, class S>
xcit_status add_broadcast_entry(const char* op, xcit_ctx* ctx, S* x, const S* rows,
                                int64_t images, int64_t per_image) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, op, "x", x)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "rows", rows)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, images, per_image)) != XCIT_OK) {
    return st;
  }
  const int64_t n = images * per_image;
  if (n == 0) return XCIT_OK;
  return xcit_cuda_launched(
      ctx, op,
      xcit_launch(add_broadcast_kernel<T>, xcit::elementwise_grid(n),
                  dim3(xcit::kElementwiseThreads), 0, xcit_cuda_stream(ctx),
                  reinterpret_cast<T*>(x), reinterpret_cast<const T*>(rows), n, per_image));
}

}  // namespace

xcit_status xcit_cuda_add_broadcast_f32(xcit_ctx* ctx, float* x, const float* rows,
                                        int64_t images, int64_t per_image) {
  return add_broadcast_entry<float>("xcit_cuda_add_broadcast_f32", ctx, x, rows, images,
                                    per_image);
}
xcit_status xcit_cuda_add_broadcast_f16(xcit_ctx* ctx, uint16_t* x, const uint16_t* rows,
                                        int64_t images, int64_t per_image) {
  return add_broadcast_entry<xcit::f16>("xcit_cuda_add_broadcast_f16", ctx, x, rows, images,
                                        per_image);
}
xcit_status xcit_cuda_add_broadcast_bf16(xcit_ctx* ctx, uint16_t* x, const uint16_t* rows,
                                         int64_t images, int64_t per_image) {
  return add_broadcast_entry<xcit::bf16>("xcit_cuda_add_broadcast_bf16", ctx, x, rows, images,
                                         per_image);
}
