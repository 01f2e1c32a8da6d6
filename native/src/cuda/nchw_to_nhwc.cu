// The staged fp32 input image (B, C, H, W) to a channel-last activation (B, H, W, C) in
// the session's storage type, in one pass (xcit_cuda.h). One thread per pixel, over an
// (image, pixel) grid (no index divided): it reads the pixel's C values from C planes
// (coalesced across a warp per plane) and writes them contiguously (a warp's C x 32 values
// are one contiguous run).
#include "cuda/cuda_check.h"
#include "cuda/elementwise.h"
#include "xcit/xcit_cuda.h"

namespace {

template <class T>
__global__ void nchw_to_nhwc_kernel(T* out, const float* in, int64_t batch, int64_t channels,
                                    int64_t pixels) {
  for (int64_t b = xcit::outer_start(); b < batch; b += xcit::outer_stride()) {
    for (int64_t p = xcit::grid_start(); p < pixels; p += xcit::grid_stride()) {
      for (int64_t c = 0; c < channels; ++c) {
        out[(b * pixels + p) * channels + c] = xcit::from_float<T>(in[(b * channels + c) * pixels + p]);
      }
    }
  }
}

template <class T, class S>
xcit_status nchw_to_nhwc_entry(const char* op, xcit_ctx* ctx, S* out, const float* in,
                               int64_t batch, int64_t channels, int64_t height, int64_t width) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "in", in)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch, channels)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, height, width)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * channels, height * width)) != XCIT_OK) {
    return st;
  }
  if (batch == 0 || channels == 0 || height * width == 0) return XCIT_OK;
  const xcit::OuterInner launch = xcit::outer_inner_launch(batch, height * width);
  return xcit_cuda_launched(
      ctx, op,
      xcit_launch(nchw_to_nhwc_kernel<T>, launch.grid,
                  launch.block, 0, xcit_cuda_stream(ctx),
                  reinterpret_cast<T*>(out), in, batch, channels, height * width));
}

}  // namespace

xcit_status xcit_cuda_nchw_to_nhwc_f32(xcit_ctx* ctx, float* out, const float* in, int64_t batch,
                                       int64_t channels, int64_t height, int64_t width) {
  return nchw_to_nhwc_entry<float>("xcit_cuda_nchw_to_nhwc_f32", ctx, out, in, batch, channels,
                                   height, width);
}
xcit_status xcit_cuda_nchw_to_nhwc_f16(xcit_ctx* ctx, uint16_t* out, const float* in,
                                       int64_t batch, int64_t channels, int64_t height,
                                       int64_t width) {
  return nchw_to_nhwc_entry<xcit::f16>("xcit_cuda_nchw_to_nhwc_f16", ctx, out, in, batch,
                                       channels, height, width);
}
xcit_status xcit_cuda_nchw_to_nhwc_bf16(xcit_ctx* ctx, uint16_t* out, const float* in,
                                        int64_t batch, int64_t channels, int64_t height,
                                        int64_t width) {
  return nchw_to_nhwc_entry<xcit::bf16>("xcit_cuda_nchw_to_nhwc_bf16", ctx, out, in, batch,
                                        channels, height, width);
}
