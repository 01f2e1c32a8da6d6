// The patch embedding's 3x3 stride-2 convolution (padding 1) as im2col + GEMM, the first
// half (xcit_cuda.h): out (pixels, 9 Cin) is the GEMM's A operand, row r holding output
// pixel first_pixel + r's 3x3 input window tap-major, k = (ky*3 + kx)*Cin + ci (the order of
// conv3x3s2.cu's implicit GEMM), zeros where the window leaves the image. The backend
// multiplies it by the weight relaid out to (Cout, 3, 3, Cin) with cuBLASLt, bias (and in
// fp16/bf16 GELU) in the GEMM's epilogue: the whole conv on cuBLASLt's kernels, at the price of
// writing and reading A (2.25 x the input: each input pixel lies in 2.25 windows on average).
//
// A pure copy: a row is 9 runs of Cin contiguous channels of the channel-last input. With
// Cin * sizeof(T) a multiple of 16 and both pointers 16-byte aligned (every patch-embedding
// stage after the first in a session) it moves 16-byte units, else single elements; the
// result is the same bits either way. A block copies the rows of a few pixels (about four
// units per thread), each thread consecutive units of a row: reads and writes coalesce.
// Coordinates by FastDivmod (output pixels and units per row below 2^31, checked).
#include "cuda/cuda_check.h"
#include "cuda/elementwise.h"
#include "cuda/fast_divmod.h"
#include "cuda/vec.h"
#include "xcit/xcit_cuda.h"

namespace {

constexpr int kThreads = 256;

struct Geometry {
  int64_t h, w, cin;
  xcit::FastDivmod by_row;   // unit of a block's rows -> (pixel of the block, unit of its row)
  xcit::FastDivmod by_tap;   // unit of a row -> (tap, unit of its Cin run)
  xcit::FastDivmod by_ow;    // pixel -> (b * oh + oy, ox)
  xcit::FastDivmod by_oh;    // b * oh + oy -> (b, oy)
};

// Rows of out for pixels [first, first + pixels), `block_pixels` per logical block.
template <class T, int W>
__global__ void im2col3x3s2_kernel(T* out, const T* in, Geometry g, int64_t first, int64_t pixels,
                                   int64_t block_pixels) {
  const int64_t row_elems = 9 * g.cin;
  const int64_t blocks = (pixels + block_pixels - 1) / block_pixels;
  for (int64_t blk = blockIdx.x; blk < blocks; blk += gridDim.x) {
    const int64_t r0 = blk * block_pixels;
    const int64_t here = pixels - r0 < block_pixels ? pixels - r0 : block_pixels;
    const uint32_t units = static_cast<uint32_t>(here) * g.by_row.divisor;
    for (uint32_t i = threadIdx.x; i < units; i += blockDim.x) {
      uint32_t local, unit, tap, run, image_row, ox, b, oy;
      g.by_row.divmod(i, local, unit);
      g.by_tap.divmod(unit, tap, run);
      const int64_t r = r0 + local;
      g.by_ow.divmod(static_cast<uint32_t>(first + r), image_row, ox);
      g.by_oh.divmod(image_row, b, oy);
      const int64_t iy = 2 * static_cast<int64_t>(oy) - 1 + tap / 3;
      const int64_t ix = 2 * static_cast<int64_t>(ox) - 1 + tap % 3;
      T* dst = out + r * row_elems + static_cast<int64_t>(unit) * W;
      if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) {
        xcit::zero_n<T, W>(dst);
      } else {
        xcit::copy_n<T, W>(dst, in + ((b * g.h + iy) * g.w + ix) * g.cin + static_cast<int64_t>(run) * W);
      }
    }
  }
}

template <class T, int W>
cudaError_t launch(T* out, const T* in, int64_t height, int64_t width, int64_t cin, int64_t first,
                   int64_t pixels, cudaStream_t stream) {
  const int64_t row_units = 9 * cin / W;
  // About four units per thread; one pixel's row at least.
  const int64_t block_pixels = row_units >= 4 * kThreads ? 1 : 4 * kThreads / row_units;
  const Geometry g{height, width, cin, xcit::FastDivmod(row_units), xcit::FastDivmod(cin / W),
                   xcit::FastDivmod((width + 1) / 2), xcit::FastDivmod((height + 1) / 2)};
  const int64_t blocks = (pixels + block_pixels - 1) / block_pixels;
  const dim3 grid = xcit::launch_grid(blocks < xcit::kMaxElementwiseBlocks ? blocks : xcit::kMaxElementwiseBlocks).dims;
  return xcit_launch(im2col3x3s2_kernel<T, W>, grid, dim3(kThreads), 0, stream, out, in, g, first,
                     pixels, block_pixels);
}

template <class T, class S>
xcit_status im2col_entry(const char* op, xcit_ctx* ctx, S* out, const S* in, int64_t batch,
                         int64_t height, int64_t width, int64_t in_channels, int64_t first_pixel,
                         int64_t pixels) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "in", in)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, height, width)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch, height * width)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * height * width, in_channels)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, in_channels, 9)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, pixels, in_channels * 9)) != XCIT_OK) {
    return st;
  }
  const int64_t total = batch * ((height + 1) / 2) * ((width + 1) / 2);
  if (first_pixel < 0 || first_pixel > total || pixels > total - first_pixel) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT,
                     "%s: pixels [%lld, %lld + %lld) outside the %lld output pixels", op,
                     static_cast<long long>(first_pixel), static_cast<long long>(first_pixel),
                     static_cast<long long>(pixels), static_cast<long long>(total));
  }
  if (pixels == 0 || in_channels == 0) return XCIT_OK;
  if (total >= xcit::kFastDivmodLimit || in_channels * 9 >= xcit::kFastDivmodLimit) {
    return xcit_fail(ctx, XCIT_ERR_UNSUPPORTED,
                     "%s: %lld output pixels and K = 9 x %lld input channels: each must be below 2^31",
                     op, static_cast<long long>(total), static_cast<long long>(in_channels));
  }
  T* o = reinterpret_cast<T*>(out);
  const T* i = reinterpret_cast<const T*>(in);
  const cudaStream_t stream = xcit_cuda_stream(ctx);
  // Rows of 9 Cin elements start 16-byte aligned iff Cin runs do.
  const cudaError_t err =
      xcit::vector_rows<T>(in_channels, {out, in})
          ? launch<T, xcit::kVec<T>>(o, i, height, width, in_channels, first_pixel, pixels, stream)
          : launch<T, 1>(o, i, height, width, in_channels, first_pixel, pixels, stream);
  return xcit_cuda_launched(ctx, op, err);
}

}  // namespace

xcit_status xcit_cuda_im2col3x3s2_f32(xcit_ctx* ctx, float* out, const float* in, int64_t batch,
                                      int64_t height, int64_t width, int64_t in_channels,
                                      int64_t first_pixel, int64_t pixels) {
  return im2col_entry<float>("xcit_cuda_im2col3x3s2_f32", ctx, out, in, batch, height, width,
                             in_channels, first_pixel, pixels);
}
xcit_status xcit_cuda_im2col3x3s2_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                      int64_t batch, int64_t height, int64_t width,
                                      int64_t in_channels, int64_t first_pixel, int64_t pixels) {
  return im2col_entry<xcit::f16>("xcit_cuda_im2col3x3s2_f16", ctx, out, in, batch, height, width,
                                 in_channels, first_pixel, pixels);
}
xcit_status xcit_cuda_im2col3x3s2_bf16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                       int64_t batch, int64_t height, int64_t width,
                                       int64_t in_channels, int64_t first_pixel, int64_t pixels) {
  return im2col_entry<xcit::bf16>("xcit_cuda_im2col3x3s2_bf16", ctx, out, in, batch, height, width,
                                  in_channels, first_pixel, pixels);
}
