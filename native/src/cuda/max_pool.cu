// k x k max pooling, stride k, no padding, floor sizes, on channel-last activations (the
// dense outputs' stride-32 / p8 stride-16/32 branches), for fp32/fp16/bf16
// (xcit_cuda.h). One thread per output element; NaN propagates, as in torch.
#include "cuda/cuda_check.h"
#include "cuda/elementwise.h"
#include "xcit/xcit_cuda.h"

namespace {

template <class T>
__global__ void max_pool_kernel(T* out, const T* in, int64_t n, int64_t h, int64_t w,
                                int64_t c, int64_t k) {
  const int64_t oh = h / k, ow = w / k;
  for (int64_t i = xcit::grid_start(); i < n; i += xcit::grid_stride()) {
    const int64_t ch = i % c, x = (i / c) % ow, y = (i / (c * ow)) % oh, b = i / (c * ow * oh);
    float m = -INFINITY;
    for (int64_t dy = 0; dy < k; ++dy) {
      for (int64_t dx = 0; dx < k; ++dx) {
        const float v = xcit::to_float(in[((b * h + y * k + dy) * w + x * k + dx) * c + ch]);
        m = (v != v || v > m) ? v : m;  // v != v: NaN wins and stays
      }
    }
    out[i] = xcit::from_float<T>(m);
  }
}

template <class T, class S>
xcit_status max_pool_entry(const char* op, xcit_ctx* ctx, S* out, const S* in, int64_t batch,
                           int64_t height, int64_t width, int64_t channels, int64_t k) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "in", in)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, height, width)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch, height * width)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * height * width, channels)) != XCIT_OK) {
    return st;
  }
  if (k < 1) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: k = %lld must be >= 1", op,
                     static_cast<long long>(k));
  }
  const int64_t n = batch * (height / k) * (width / k) * channels;
  if (n == 0) return XCIT_OK;
  return xcit_cuda_launched(
      ctx, op,
      xcit_launch(max_pool_kernel<T>, xcit::elementwise_grid(n), dim3(xcit::kElementwiseThreads),
                  0, xcit_cuda_stream(ctx), reinterpret_cast<T*>(out),
                  reinterpret_cast<const T*>(in), n, height, width, channels, k));
}

}  // namespace

xcit_status xcit_cuda_max_pool_f32(xcit_ctx* ctx, float* out, const float* in, int64_t batch,
                                   int64_t height, int64_t width, int64_t channels, int64_t k) {
  return max_pool_entry<float>("xcit_cuda_max_pool_f32", ctx, out, in, batch, height, width,
                               channels, k);
}
xcit_status xcit_cuda_max_pool_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                   int64_t batch, int64_t height, int64_t width,
                                   int64_t channels, int64_t k) {
  return max_pool_entry<xcit::f16>("xcit_cuda_max_pool_f16", ctx, out, in, batch, height, width,
                                   channels, k);
}
xcit_status xcit_cuda_max_pool_bf16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                    int64_t batch, int64_t height, int64_t width,
                                    int64_t channels, int64_t k) {
  return max_pool_entry<xcit::bf16>("xcit_cuda_max_pool_bf16", ctx, out, in, batch, height,
                                    width, channels, k);
}
