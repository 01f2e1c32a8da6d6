// 2x2 stride-2 transposed convolution of the dense outputs (FPN stride-4/8 branches) on
// channel-last activations, for fp32/fp16/bf16 (xcit_cuda.h). Each input pixel feeds a
// disjoint 2x2 output block, so it is one GEMM on gemm_tile.h: rows = input pixels,
// columns n = o*4 + i*2 + j (the (Cin, Cout, 2, 2) weight read as Cin x 4Cout), and the
// store scatters column n of pixel (b, y, x) to output pixel (b, 2y+i, 2x+j), channel o.
// fp16/bf16 run on tensor cores, fp32 on CUDA cores (gemm_tile.h).
#include "cuda/cuda_check.h"
#include "cuda/gemm_tile.h"
#include "xcit/xcit_cuda.h"

namespace {

// A: the input pixels, rows of Cin (xcit::DenseRows).
// B[n, c] = weight[c, n] (weight is Cin x 4Cout row-major).
template <class T>
struct TapColumns {
  const T* weight;
  int64_t n4;
  __device__ float operator()(int64_t, int64_t n, int64_t c) const {
    return xcit::to_float(weight[c * n4 + n]);
  }
};

template <class T>
struct BlockStore {
  T* out;
  const T* bias;
  int64_t h, w, cout;
  __device__ void operator()(int64_t, int64_t p, int64_t n, float acc) const {
    const int64_t o = n / 4, i = (n / 2) % 2, j = n % 2;
    const int64_t x = p % w, y = (p / w) % h, b = p / (w * h);
    const int64_t at = ((b * 2 * h + 2 * y + i) * 2 * w + 2 * x + j) * cout + o;
    out[at] = xcit::from_float<T>(acc + xcit::to_float(bias[o]));
  }
};

template <class T, class S>
xcit_status convt_entry(const char* op, xcit_ctx* ctx, S* out, const S* in, const S* weight,
                        const S* bias, int64_t batch, int64_t height, int64_t width,
                        int64_t in_channels, int64_t out_channels) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "in", in)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "weight", weight)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "bias", bias)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, height, width)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch, height * width)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * height * width, in_channels)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, in_channels, out_channels * 4)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * height * width * 4, out_channels)) != XCIT_OK) {
    return st;
  }
  const int64_t pixels = batch * height * width;
  if (pixels == 0 || out_channels == 0) return XCIT_OK;
  const xcit::DenseRows<T> a{reinterpret_cast<const T*>(in), 0, in_channels};  // pixels (B H W, Cin)
  const TapColumns<T> b{reinterpret_cast<const T*>(weight), out_channels * 4};
  const BlockStore<T> store{reinterpret_cast<T*>(out), reinterpret_cast<const T*>(bias), height,
                            width, out_channels};
  return xcit_cuda_launched(ctx, op,
                            xcit::gemm_launch<T>(xcit_cuda_stream(ctx), a, b, store, pixels,
                                                 out_channels * 4, in_channels, 1));
}

}  // namespace

xcit_status xcit_cuda_conv_transpose2x2_f32(xcit_ctx* ctx, float* out, const float* in,
                                            const float* weight, const float* bias,
                                            int64_t batch, int64_t height, int64_t width,
                                            int64_t in_channels, int64_t out_channels) {
  return convt_entry<float>("xcit_cuda_conv_transpose2x2_f32", ctx, out, in, weight, bias, batch,
                            height, width, in_channels, out_channels);
}
xcit_status xcit_cuda_conv_transpose2x2_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                            const uint16_t* weight, const uint16_t* bias,
                                            int64_t batch, int64_t height, int64_t width,
                                            int64_t in_channels, int64_t out_channels) {
  return convt_entry<xcit::f16>("xcit_cuda_conv_transpose2x2_f16", ctx, out, in, weight, bias,
                                batch, height, width, in_channels, out_channels);
}
xcit_status xcit_cuda_conv_transpose2x2_bf16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                             const uint16_t* weight, const uint16_t* bias,
                                             int64_t batch, int64_t height, int64_t width,
                                             int64_t in_channels, int64_t out_channels) {
  return convt_entry<xcit::bf16>("xcit_cuda_conv_transpose2x2_bf16", ctx, out, in, weight, bias,
                                 batch, height, width, in_channels, out_channels);
}
