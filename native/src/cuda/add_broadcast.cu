// x (images, per_image) += rows (per_image): the positional encoding added to every
// image of the batch, for fp32/fp16/bf16 (xcit_cuda.h).
#include "cuda/cuda_check.h"
#include "cuda/elementwise.h"
#include "xcit/xcit_cuda.h"

namespace {

template <class T>
__global__ void add_broadcast_kernel(T* x, const T* rows, int64_t images, int64_t per_image) {
  for (int64_t b = xcit::outer_start(); b < images; b += xcit::outer_stride()) {
    for (int64_t j = xcit::grid_start(); j < per_image; j += xcit::grid_stride()) {
      x[b * per_image + j] = xcit::from_float<T>(xcit::to_float(x[b * per_image + j]) + xcit::to_float(rows[j]));
    }
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
  if (images == 0 || per_image == 0) return XCIT_OK;
  const xcit::OuterInner launch = xcit::outer_inner_launch(images, per_image);
  return xcit_cuda_launched(
      ctx, op,
      xcit_launch(add_broadcast_kernel<T>, launch.grid,
                  launch.block, 0, xcit_cuda_stream(ctx),
                  reinterpret_cast<T*>(x), reinterpret_cast<const T*>(rows), images, per_image));
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
