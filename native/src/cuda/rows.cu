// Row copies of the class-attention stage (xcit_cuda.h): gather_row (cls row out of
// (B, R, C)), scatter_row (back in) and prepend_row ([cls; tokens]). The first two are
// one strided copy: `count` rows of `cols` elements per image, from src (image stride
// src_stride) to dst rows starting at dst_row; prepend_row writes each output element
// once from one source or the other, in one launch.
#include "cuda/cuda_check.h"
#include "cuda/elementwise.h"
#include "xcit/xcit_cuda.h"

namespace {

struct RowCopy {
  int64_t images, count, cols;
  int64_t src_stride, src_row;  // elements per image, first row
  int64_t dst_stride, dst_row;
};

// Both over an (image, element of the image) grid: no index divided.
template <class T>
__global__ void copy_rows_kernel(T* dst, const T* src, RowCopy p) {
  const int64_t per_image = p.count * p.cols;
  for (int64_t b = xcit::outer_start(); b < p.images; b += xcit::outer_stride()) {
    for (int64_t within = xcit::grid_start(); within < per_image; within += xcit::grid_stride()) {
      dst[b * p.dst_stride + p.dst_row * p.cols + within] =
          src[b * p.src_stride + p.src_row * p.cols + within];
    }
  }
}

// out (B, T + 1, C) = [first; in (B, T, C)] per image.
template <class T>
__global__ void prepend_row_kernel(T* out, const T* first, const T* in, int64_t batch, int64_t tokens,
                                   int64_t cols) {
  const int64_t per_image = (tokens + 1) * cols;
  for (int64_t b = xcit::outer_start(); b < batch; b += xcit::outer_stride()) {
    for (int64_t within = xcit::grid_start(); within < per_image; within += xcit::grid_stride()) {
      out[b * per_image + within] = within < cols ? first[within] : in[b * tokens * cols + within - cols];
    }
  }
}

template <class T>
cudaError_t copy_rows_launch(cudaStream_t stream, T* dst, const T* src, const RowCopy& p) {
  const xcit::OuterInner launch = xcit::outer_inner_launch(p.images, p.count * p.cols);
  return xcit_launch(copy_rows_kernel<T>, launch.grid,
                     launch.block, 0, stream, dst, src, p);
}

xcit_status check_rows(xcit_ctx* ctx, const char* op, const void* out, const void* in,
                       int64_t batch, int64_t rows, int64_t cols, int64_t row) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "in", in)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch, rows)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * rows, cols)) != XCIT_OK) {
    return st;
  }
  if (batch > 0 && (row < 0 || row >= rows)) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: row = %lld outside [0, %lld)", op,
                     static_cast<long long>(row), static_cast<long long>(rows));
  }
  return XCIT_OK;
}

template <class T, class S>
xcit_status gather(const char* op, xcit_ctx* ctx, S* out, const S* in, int64_t batch,
                   int64_t rows, int64_t cols, int64_t row) {
  xcit_status st = check_rows(ctx, op, out, in, batch, rows, cols, row);
  if (st != XCIT_OK || batch == 0 || cols == 0) return st;
  const RowCopy p{batch, 1, cols, rows * cols, row, cols, 0};
  return xcit_cuda_launched(ctx, op,
                            copy_rows_launch(xcit_cuda_stream(ctx), reinterpret_cast<T*>(out),
                                             reinterpret_cast<const T*>(in), p));
}

template <class T, class S>
xcit_status scatter(const char* op, xcit_ctx* ctx, S* out, const S* in, int64_t batch,
                    int64_t rows, int64_t cols, int64_t row) {
  xcit_status st = check_rows(ctx, op, out, in, batch, rows, cols, row);
  if (st != XCIT_OK || batch == 0 || cols == 0) return st;
  const RowCopy p{batch, 1, cols, cols, 0, rows * cols, row};
  return xcit_cuda_launched(ctx, op,
                            copy_rows_launch(xcit_cuda_stream(ctx), reinterpret_cast<T*>(out),
                                             reinterpret_cast<const T*>(in), p));
}

template <class T, class S>
xcit_status prepend(const char* op, xcit_ctx* ctx, S* out, const S* first, const S* in,
                    int64_t batch, int64_t tokens, int64_t cols) {
  xcit_status st;
  if ((st = xcit_check_matrix(ctx, op, batch, tokens)) != XCIT_OK ||
      (st = check_rows(ctx, op, out, in, batch, tokens + 1, cols, 0)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "first", first)) != XCIT_OK) {
    return st;
  }
  if (batch == 0 || cols == 0) return XCIT_OK;
  const xcit::OuterInner launch = xcit::outer_inner_launch(batch, (tokens + 1) * cols);
  return xcit_cuda_launched(
      ctx, op,
      xcit_launch(prepend_row_kernel<T>, launch.grid,
                  launch.block, 0,
                  xcit_cuda_stream(ctx), reinterpret_cast<T*>(out), reinterpret_cast<const T*>(first),
                  reinterpret_cast<const T*>(in), batch, tokens, cols));
}

}  // namespace

xcit_status xcit_cuda_gather_row_f32(xcit_ctx* ctx, float* out, const float* in, int64_t batch,
                                     int64_t rows, int64_t cols, int64_t row) {
  return gather<float>("xcit_cuda_gather_row_f32", ctx, out, in, batch, rows, cols, row);
}
xcit_status xcit_cuda_gather_row_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                     int64_t batch, int64_t rows, int64_t cols, int64_t row) {
  return gather<xcit::f16>("xcit_cuda_gather_row_f16", ctx, out, in, batch, rows, cols, row);
}
xcit_status xcit_cuda_gather_row_bf16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                      int64_t batch, int64_t rows, int64_t cols, int64_t row) {
  return gather<xcit::bf16>("xcit_cuda_gather_row_bf16", ctx, out, in, batch, rows, cols, row);
}
xcit_status xcit_cuda_scatter_row_f32(xcit_ctx* ctx, float* out, const float* in, int64_t batch,
                                      int64_t rows, int64_t cols, int64_t row) {
  return scatter<float>("xcit_cuda_scatter_row_f32", ctx, out, in, batch, rows, cols, row);
}
xcit_status xcit_cuda_scatter_row_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                      int64_t batch, int64_t rows, int64_t cols, int64_t row) {
  return scatter<xcit::f16>("xcit_cuda_scatter_row_f16", ctx, out, in, batch, rows, cols, row);
}
xcit_status xcit_cuda_scatter_row_bf16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                       int64_t batch, int64_t rows, int64_t cols, int64_t row) {
  return scatter<xcit::bf16>("xcit_cuda_scatter_row_bf16", ctx, out, in, batch, rows, cols, row);
}
xcit_status xcit_cuda_prepend_row_f32(xcit_ctx* ctx, float* out, const float* first,
                                      const float* in, int64_t batch, int64_t tokens,
                                      int64_t cols) {
  return prepend<float>("xcit_cuda_prepend_row_f32", ctx, out, first, in, batch, tokens, cols);
}
xcit_status xcit_cuda_prepend_row_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* first,
                                      const uint16_t* in, int64_t batch, int64_t tokens,
                                      int64_t cols) {
  return prepend<xcit::f16>("xcit_cuda_prepend_row_f16", ctx, out, first, in, batch, tokens,
                            cols);
}
xcit_status xcit_cuda_prepend_row_bf16(xcit_ctx* ctx, uint16_t* out, const uint16_t* first,
                                       const uint16_t* in, int64_t batch, int64_t tokens,
                                       int64_t cols) {
  return prepend<xcit::bf16>("xcit_cuda_prepend_row_bf16", ctx, out, first, in, batch, tokens,
                             cols);
}
