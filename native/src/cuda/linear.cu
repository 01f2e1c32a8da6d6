// The portable Linear: out = in * W^T + bias (+ exact GELU), optionally with one weight
// matrix per batch item (the folded XCA's per-image W'), for fp32/fp16/bf16
// (xcit_cuda.h). The tiled core is gemm_tile.h (fp16/bf16 on tensor cores, fp32 on CUDA
// cores); this file supplies dense-row functors.
#include "cuda/cuda_check.h"
#include "cuda/gemm_tile.h"
#include "xcit/xcit_cuda.h"

namespace {

// Stores acc + bias[n], then GELU if asked, plus out's old value if accumulating (the
// residual update: fp32 sum, one rounding to T).
template <class T>
struct LinearStore {
  T* out;
  const T* bias;
  int64_t out_stride, o, bias_stride;
  bool gelu, accumulate;
  __device__ void operator()(int64_t z, int64_t m, int64_t n, float acc) const {
    float v = acc + (bias != nullptr ? xcit::to_float(bias[z * bias_stride + n]) : 0.0f);
    if (gelu) v = xcit::gelu(v);
    T& dst = out[z * out_stride + m * o + n];
    if (accumulate) v += xcit::to_float(dst);
    dst = xcit::from_float<T>(v);
  }
};

template <class T, class S>
xcit_status linear_entry(const char* op, xcit_ctx* ctx, S* out, const S* in, const S* weight,
                         const S* bias, int64_t batch, int64_t rows, int64_t in_features,
                         int64_t out_features, int32_t flags) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "in", in)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "weight", weight)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch, rows)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * rows, in_features)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * rows, out_features)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * out_features, in_features)) != XCIT_OK) {
    return st;
  }
  if ((flags & ~(XCIT_CUDA_LINEAR_GELU | XCIT_CUDA_LINEAR_BATCHED_WEIGHTS | XCIT_CUDA_LINEAR_ACCUMULATE)) != 0) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: unknown flags 0x%x", op,
                     static_cast<unsigned>(flags));
  }
  if (batch == 0 || rows == 0 || out_features == 0) return XCIT_OK;
  const bool batched = (flags & XCIT_CUDA_LINEAR_BATCHED_WEIGHTS) != 0;
  const xcit::DenseRows<T> a{reinterpret_cast<const T*>(in), rows * in_features, in_features};
  const xcit::DenseRows<T> b{reinterpret_cast<const T*>(weight),
                       batched ? out_features * in_features : 0, in_features};
  const LinearStore<T> store{reinterpret_cast<T*>(out), reinterpret_cast<const T*>(bias),
                             rows * out_features, out_features, batched ? out_features : 0,
                             (flags & XCIT_CUDA_LINEAR_GELU) != 0,
                             (flags & XCIT_CUDA_LINEAR_ACCUMULATE) != 0};
  const cudaStream_t stream = xcit_cuda_stream(ctx);
  if constexpr (xcit::kGemmOnTensorCores<T>) {
    // Rows of K elements start 16-byte aligned in both operands: units.
    if (xcit::vector_rows<T>(in_features, {in, weight})) {
      return xcit_cuda_launched(
          ctx, op,
          xcit::gemm_launch<T>(stream, xcit::DenseRowUnits<T>{a}, xcit::DenseRowUnits<T>{b}, store, rows,
                               out_features, in_features, batch));
    }
  }
  return xcit_cuda_launched(ctx, op,
                            xcit::gemm_launch<T>(stream, a, b, store, rows, out_features,
                                                 in_features, batch));
}

}  // namespace

xcit_status xcit_cuda_linear_f32(xcit_ctx* ctx, float* out, const float* in, const float* weight,
                                 const float* bias, int64_t batch, int64_t rows,
                                 int64_t in_features, int64_t out_features, int32_t flags) {
  return linear_entry<float>("xcit_cuda_linear_f32", ctx, out, in, weight, bias, batch, rows,
                             in_features, out_features, flags);
}
xcit_status xcit_cuda_linear_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                 const uint16_t* weight, const uint16_t* bias, int64_t batch,
                                 int64_t rows, int64_t in_features, int64_t out_features,
                                 int32_t flags) {
  return linear_entry<xcit::f16>("xcit_cuda_linear_f16", ctx, out, in, weight, bias, batch, rows,
                                 in_features, out_features, flags);
}
xcit_status xcit_cuda_linear_bf16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                  const uint16_t* weight, const uint16_t* bias, int64_t batch,
                                  int64_t rows, int64_t in_features, int64_t out_features,
                                  int32_t flags) {
  return linear_entry<xcit::bf16>("xcit_cuda_linear_bf16", ctx, out, in, weight, bias, batch,
                                  rows, in_features, out_features, flags);
}
