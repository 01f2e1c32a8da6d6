// LayerNorm over the last dimension, optionally fused with the residual update that
// precedes every LayerNorm inside an XCA block (x += gamma * y; u = LN(x)), for fp32,
// fp16 and bf16 storage (xcit_cuda.h). kernel -> launch -> exported entries; the CPU
// reference is src/cpu/layernorm.c. Statistics are fp32 whatever the storage type.
#include "cuda/cuda_check.h"
#include "cuda/grid.h"
#include "cuda/reduce.h"
#include "xcit/xcit_cuda.h"

namespace {

// 256 threads keep a 384-wide row (XCiT-S/M) to 1.5 elements per thread while staying
// small enough for many resident blocks; narrower rows use fewer warps (see launch).
constexpr int kMaxThreads = 256;

// One logical block per row of `cols` elements (rows fold into gridDim.x, grid.h). With
// Residual, first x[c] = T(x[c] + scale[c] * y[c]) (scale NULL means 1): the rounded T
// value is what the LayerNorm then reads, so the result equals add_scaled followed by
// layernorm exactly. Then the mean, the mean squared deviation from it (two passes: no
// E[x^2] - E[x]^2 cancellation) and the affine step. Each thread re-reads only elements
// it wrote itself, so the residual pass needs no barrier; the reductions end with a
// barrier before any write to out, which makes out == x (plain LayerNorm in place) safe.
template <class T, bool Residual, bool Folded>
__global__ void __launch_bounds__(kMaxThreads)
    layernorm_kernel(T* out, T* x, const T* y, const T* scale, const T* gamma, const T* beta,
                     int64_t rows, int64_t cols, float eps) {
  __shared__ float scratch[xcit::kWarp + 1];
  xcit::for_each_block<Folded>(rows, 1, 1, [&](int64_t r, int64_t, int64_t) {
    const int64_t offset = r * cols;
    T* row = x + offset;
    T* dst = out + offset;

    float sum = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      if (Residual) {
        const float s = scale != nullptr ? xcit::to_float(scale[c]) : 1.0f;
        row[c] = xcit::from_float<T>(xcit::to_float(row[c]) + s * xcit::to_float(y[offset + c]));
      }
      sum += xcit::to_float(row[c]);
    }
    const float mean = xcit::block_sum(sum, scratch) / static_cast<float>(cols);

    float squares = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float d = xcit::to_float(row[c]) - mean;
      squares += d * d;
    }
    const float rstd =
        rsqrtf(xcit::block_sum(squares, scratch) / static_cast<float>(cols) + eps);

    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float v = (xcit::to_float(row[c]) - mean) * rstd;
      dst[c] = xcit::from_float<T>(v * xcit::to_float(gamma[c]) + xcit::to_float(beta[c]));
    }
  });
}

// rows >= 1, cols >= 1: as many whole warps as the row needs, up to kMaxThreads.
template <class T, bool Residual>
cudaError_t layernorm_launch(cudaStream_t stream, T* out, T* x, const T* y, const T* scale,
                             const T* gamma, const T* beta, int64_t rows, int64_t cols,
                             float eps) {
  const int64_t warps = xcit::ceil_div(cols, xcit::kWarp);
  const int threads = static_cast<int>(warps * xcit::kWarp < kMaxThreads ? warps * xcit::kWarp
                                                                         : kMaxThreads);
  const xcit::LaunchGrid g = xcit::launch_grid(rows);
  return xcit_launch(g.folded ? layernorm_kernel<T, Residual, true>
                              : layernorm_kernel<T, Residual, false>,
                     g.dims, dim3(threads), 0, stream, out, x, y, scale, gamma, beta, rows, cols,
                     eps);
}

template <class T, bool Residual>
xcit_status layernorm_entry(const char* op, xcit_ctx* ctx, T* out, T* x, const T* y,
                            const T* scale, const T* gamma, const T* beta, int64_t rows,
                            int64_t cols, float eps) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, Residual ? "x" : "out", Residual ? x : out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, Residual ? "out" : "in", Residual ? out : x)) != XCIT_OK ||
      (Residual && (st = xcit_check_ptr(ctx, op, "y", y)) != XCIT_OK) ||
      (st = xcit_check_ptr(ctx, op, "gamma", gamma)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "beta", beta)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, rows, cols)) != XCIT_OK ||
      (st = xcit_check_eps(ctx, op, eps)) != XCIT_OK) {
    return st;
  }
  if (Residual && out == x) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT,
                     "%s: out aliases x (x keeps the residual stream)", op);
  }
  if (rows == 0) return XCIT_OK;
  return xcit_cuda_launched(ctx, op,
                            layernorm_launch<T, Residual>(xcit_cuda_stream(ctx), out, x, y, scale,
                                                          gamma, beta, rows, cols, eps));
}

template <class T, class S>
xcit_status plain(const char* op, xcit_ctx* ctx, S* out, const S* in, const S* gamma,
                  const S* beta, int64_t rows, int64_t cols, float eps) {
  // The plain LayerNorm is the residual kernel without the residual: x = in (read only).
  return layernorm_entry<T, false>(op, ctx, reinterpret_cast<T*>(out),
                                   const_cast<T*>(reinterpret_cast<const T*>(in)), nullptr,
                                   nullptr, reinterpret_cast<const T*>(gamma),
                                   reinterpret_cast<const T*>(beta), rows, cols, eps);
}

template <class T, class S>
xcit_status residual(const char* op, xcit_ctx* ctx, S* x, S* out, const S* y, const S* scale,
                     const S* gamma, const S* beta, int64_t rows, int64_t cols, float eps) {
  return layernorm_entry<T, true>(op, ctx, reinterpret_cast<T*>(out), reinterpret_cast<T*>(x),
                                  reinterpret_cast<const T*>(y),
                                  reinterpret_cast<const T*>(scale),
                                  reinterpret_cast<const T*>(gamma),
                                  reinterpret_cast<const T*>(beta), rows, cols, eps);
}

}  // namespace

xcit_status xcit_cuda_layernorm_f32(xcit_ctx* ctx, float* out, const float* in,
                                    const float* gamma, const float* beta, int64_t rows,
                                    int64_t cols, float eps) {
  return plain<float>("xcit_cuda_layernorm_f32", ctx, out, in, gamma, beta, rows, cols, eps);
}
xcit_status xcit_cuda_layernorm_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                    const uint16_t* gamma, const uint16_t* beta, int64_t rows,
                                    int64_t cols, float eps) {
  return plain<xcit::f16>("xcit_cuda_layernorm_f16", ctx, out, in, gamma, beta, rows, cols, eps);
}
xcit_status xcit_cuda_layernorm_bf16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                     const uint16_t* gamma, const uint16_t* beta, int64_t rows,
                                     int64_t cols, float eps) {
  return plain<xcit::bf16>("xcit_cuda_layernorm_bf16", ctx, out, in, gamma, beta, rows, cols,
                           eps);
}

xcit_status xcit_cuda_residual_layernorm_f32(xcit_ctx* ctx, float* x, float* out,
                                             const float* y, const float* scale,
                                             const float* gamma, const float* beta,
                                             int64_t rows, int64_t cols, float eps) {
  return residual<float>("xcit_cuda_residual_layernorm_f32", ctx, x, out, y, scale, gamma, beta,
                         rows, cols, eps);
}
xcit_status xcit_cuda_residual_layernorm_f16(xcit_ctx* ctx, uint16_t* x, uint16_t* out,
                                             const uint16_t* y, const uint16_t* scale,
                                             const uint16_t* gamma, const uint16_t* beta,
                                             int64_t rows, int64_t cols, float eps) {
  return residual<xcit::f16>("xcit_cuda_residual_layernorm_f16", ctx, x, out, y, scale, gamma,
                             beta, rows, cols, eps);
}
xcit_status xcit_cuda_residual_layernorm_bf16(xcit_ctx* ctx, uint16_t* x, uint16_t* out,
                                              const uint16_t* y, const uint16_t* scale,
                                              const uint16_t* gamma, const uint16_t* beta,
                                              int64_t rows, int64_t cols, float eps) {
  return residual<xcit::bf16>("xcit_cuda_residual_layernorm_bf16", ctx, x, out, y, scale, gamma,
                              beta, rows, cols, eps);
}
