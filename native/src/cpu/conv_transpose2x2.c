/* 2x2 stride-2 transposed convolution of the dense heads (xcit.h). Each input pixel
 * produces a 2x2 block of output pixels: acc (Cout, 2, 2) = sum_c in[c] * weight[c] in
 * torch's (Cin, Cout, 2, 2) layout, whose 4*Cout values per input channel are contiguous,
 * so the inner loop vectorises without repacking the weight. */
#if defined(XCIT_ISA)
#include "cpu/simd.h"

void XCIT_KFN(conv_transpose2x2)(float* out, const float* in, const float* weight,
                                 const float* bias, int64_t pixels, int64_t width, int64_t cin,
                                 int64_t cout, float* scratch, int threads) {
  const int64_t k4 = 4 * cout;
  /* pixels = B*H input rows of `width` pixels; input row r feeds output rows 2r, 2r+1 of
   * the (B*2H, 2W, Cout) output. */
#pragma omp parallel for num_threads(threads) schedule(static) if (pixels * width * cin * k4 >= 65536)
  for (int64_t r = 0; r < pixels; ++r) {
    float* acc = scratch + (int64_t)xcit_tid() * k4;
    for (int64_t x = 0; x < width; ++x) {
      const float* src = in + (r * width + x) * cin;
      memset(acc, 0, (size_t)k4 * sizeof(float));
      for (int64_t c = 0; c < cin; ++c) {
        const float s = src[c];
        const float* w = weight + c * k4;
#pragma omp simd
        for (int64_t j = 0; j < k4; ++j) acc[j] += s * w[j];
      }
      for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 2; ++j) {
          float* dst = out + ((2 * r + i) * 2 * width + 2 * x + j) * cout;
          for (int64_t o = 0; o < cout; ++o) dst[o] = bias[o] + acc[o * 4 + i * 2 + j];
        }
      }
    }
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_conv_transpose2x2_f32(xcit_ctx* ctx, float* out, const float* in,
                                           const float* weight, const float* bias, int64_t batch,
                                           int64_t height, int64_t width, int64_t cin,
                                           int64_t cout) {
  static const char* const OP = "xcit_cpu_conv_transpose2x2_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "in", in)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "weight", weight)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "bias", bias)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, batch, 2 * height, 2 * width, cin, cout, 4)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, height, width)) != XCIT_OK) {
    return st;
  }
  if (batch == 0 || height == 0 || width == 0 || cout == 0) return XCIT_OK;
  const int threads = xcit_cpu_threads_of(ctx);
  float* scratch = xcit_cpu_scratch(ctx, OP, (int64_t)threads * 4 * cout * (int64_t)sizeof(float));
  if (scratch == NULL) return XCIT_ERR_OUT_OF_MEMORY;
  xcit_cpu_k(ctx)->conv_transpose2x2(out, in, weight, bias, batch * height, width, cin, cout,
                                     scratch, threads);
  return XCIT_OK;
}
#endif
