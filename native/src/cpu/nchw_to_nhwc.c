/* out (B, H, W, C) = in (B, C, H, W) (xcit.h): the input image to channel-last. C is 3
 * for images, so the loop runs over pixels with the channels innermost. */
#include "cpu/runtime.h"

xcit_status xcit_cpu_nchw_to_nhwc_f32(xcit_ctx* ctx, float* out, const float* in, int64_t batch,
                                      int64_t channels, int64_t height, int64_t width) {
  static const char* const OP = "xcit_cpu_nchw_to_nhwc_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "in", in)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, batch, channels, height, width)) != XCIT_OK) {
    return st;
  }
  const int64_t plane = height * width;
#pragma omp parallel for collapse(2) num_threads(xcit_cpu_threads_of(ctx)) if (batch * plane * channels >= 65536)
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t p = 0; p < plane; ++p) {
      const float* src = in + b * channels * plane + p;
      float* dst = out + (b * plane + p) * channels;
      for (int64_t c = 0; c < channels; ++c) dst[c] = src[c * plane];
    }
  }
  return XCIT_OK;
}
