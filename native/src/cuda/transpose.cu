// A batched 2-D transpose in the session's storage type (xcit_cuda.h): out (B, S, R) =
// in (B, R, S). The data moves of a session (the class-attention maps without their cls
// column, the dense levels to channel-first) are transposes of activations, which are
// stored as T; nchw_to_nhwc reads fp32 and is only for the staged input image. One
// thread per output element in a grid-stride loop, 64-bit indices.
#include "cuda/cuda_check.h"
#include "cuda/elementwise.h"
#include "xcit/xcit_cuda.h"

namespace {

template <class T>
__global__ void transpose_kernel(T* out, const T* in, int64_t n, int64_t rows, int64_t cols) {
  for (int64_t i = xcit::grid_start(); i < n; i += xcit::grid_stride()) {
    const int64_t r = i % rows;  // out[b][s][r]
    const int64_t s = (i / rows) % cols;
    const int64_t b = i / (rows * cols);
    out[i] = in[(b * rows + r) * cols + s];
  }
}

template <class T, class S>
xcit_status transpose_entry(const char* op, xcit_ctx* ctx, S* out, const S* in, int64_t batch,
                            int64_t rows, int64_t cols) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "in", in)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch, rows)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * rows, cols)) != XCIT_OK) {
    return st;
  }
  if (out == in) return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: out and in must not alias", op);
  const int64_t n = batch * rows * cols;
  if (n == 0) return XCIT_OK;
  return xcit_cuda_launched(
      ctx, op,
      xcit_launch(transpose_kernel<T>, xcit::elementwise_grid(n), dim3(xcit::kElementwiseThreads), 0,
                  xcit_cuda_stream(ctx), reinterpret_cast<T*>(out), reinterpret_cast<const T*>(in), n,
                  rows, cols));
}

}  // namespace

xcit_status xcit_cuda_transpose_f32(xcit_ctx* ctx, float* out, const float* in, int64_t batch,
                                    int64_t rows, int64_t cols) {
  return transpose_entry<float>("xcit_cuda_transpose_f32", ctx, out, in, batch, rows, cols);
}
xcit_status xcit_cuda_transpose_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                    int64_t batch, int64_t rows, int64_t cols) {
  return transpose_entry<xcit::f16>("xcit_cuda_transpose_f16", ctx, out, in, batch, rows, cols);
}
xcit_status xcit_cuda_transpose_bf16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                     int64_t batch, int64_t rows, int64_t cols) {
  return transpose_entry<xcit::bf16>("xcit_cuda_transpose_bf16", ctx, out, in, batch, rows, cols);
}
