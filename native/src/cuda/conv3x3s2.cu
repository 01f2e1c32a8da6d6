// The patch embedding's 3x3 stride-2 convolution (padding 1) on channel-last
// activations, for fp32/fp16/bf16 (xcit_cuda.h), as an implicit GEMM on gemm_tile.h:
// rows are output pixels, columns output channels, and k = (ky*3 + kx)*Cin + ci, tap-major,
// so consecutive k of a row are consecutive channels of one input pixel: contiguous reads
// of the channel-last input (the A operand gathers; zero outside the image: the padding).
// The weight comes as loaded, (Cout, Cin, 3, 3), B mapping k to its index ci*9 + tap, or,
// with XCIT_CUDA_CONV_TAP_MAJOR (what CudaBackend passes), relaid out to (Cout, 3, 3, Cin),
// whose rows are B's rows. Then, in fp16/bf16 with Cin a multiple of 8 and aligned
// tensors, both operands are staged in 16-byte units (gemm_tile.h): 8 channels of one tap
// of one input pixel for A, 8 weights of a row for B, one index computation per unit.
// fp16/bf16 run on tensor cores (wmma, fp32 accumulation), fp32 on CUDA cores in fp32:
// gemm_tile.h. DESIGN.md allows cuDNN here; this kernel keeps libxcit_cuda free of it
// and is what the emulator checks. BatchNorm is already folded into weight and bias by
// the loader; the GELU between stages is the store's epilogue (XCIT_CONV_GELU), not a
// pass of its own. The functors split rows and k into coordinates with FastDivmod
// (multiply-high and shift, not the GPU's slow integer division), so output pixels and K
// are limited to 2^31 - 1 per call (XCIT_ERR_UNSUPPORTED beyond: a 92,000^2 image at
// batch 1). Small outputs (the late stages at batch 1) split K over the workspace
// (gemm_launch_split_k); xcit_cuda_conv3x3s2_workspace_size says how much, 0 when not.
#include "cuda/cuda_check.h"
#include "cuda/fast_divmod.h"
#include "cuda/gemm_tile.h"
#include "cuda/vec.h"
#include "xcit/xcit_cuda.h"

namespace {

// Pixel and k coordinates by FastDivmod (output pixels and 9 Cin below 2^31, checked at
// entry); addresses in int64.
struct Geometry {
  int64_t h, w, cin;
  xcit::FastDivmod by_cin, by_ow, by_oh;  // k -> (tap, ci); p -> (b*oh + oy, ox); -> (b, oy)
};

// A[p, k] = in[b, 2*oy - 1 + ky, 2*ox - 1 + kx, ci] for output pixel p = (b, oy, ox) and
// k = (ky*3 + kx)*Cin + ci.
template <class T>
struct Window {
  const T* in;
  Geometry g;
  // &in[b, iy, ix, ci] for (p, k), or nullptr where the window leaves the image.
  __device__ const T* source(int64_t p, int64_t k) const {
    uint32_t tap, ci, row, ox, b, oy;
    g.by_cin.divmod(static_cast<uint32_t>(k), tap, ci);
    g.by_ow.divmod(static_cast<uint32_t>(p), row, ox);
    g.by_oh.divmod(row, b, oy);
    const int64_t iy = 2 * static_cast<int64_t>(oy) - 1 + tap / 3;
    const int64_t ix = 2 * static_cast<int64_t>(ox) - 1 + tap % 3;
    if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) return nullptr;
    return in + ((b * g.h + iy) * g.w + ix) * g.cin + ci;
  }
  __device__ float operator()(int64_t, int64_t p, int64_t k) const {
    const T* s = source(p, k);
    return s != nullptr ? xcit::to_float(*s) : 0.0f;
  }
};

// A in 16-byte units (gemm_tile.h): Cin a multiple of kVec<T> and `in` 16-byte aligned, so
// the 8 k of a unit are 8 channels of one tap, contiguous in the input pixel.
template <class T>
struct WindowUnits : Window<T> {
  static constexpr bool kUnits = true;
  __device__ void units(int64_t, int64_t p, int64_t k, T* dst) const {
    const T* s = this->source(p, k);
    if (s != nullptr) xcit::copy_16(dst, s);
    else xcit::zero_16(dst);
  }
};

// B[o, k] = weight[o, ci, ky, kx] for k = (ky*3 + kx)*Cin + ci.
template <class T>
struct WeightRows {
  const T* weight;
  int64_t cin;
  xcit::FastDivmod by_cin;
  __device__ float operator()(int64_t, int64_t o, int64_t k) const {
    uint32_t tap, ci;
    by_cin.divmod(static_cast<uint32_t>(k), tap, ci);
    return xcit::to_float(weight[(o * cin + ci) * 9 + tap]);
  }
};

template <class T>
struct PixelStore {
  T* out;
  const T* bias;
  int64_t cout;
  bool gelu;
  __device__ void operator()(int64_t, int64_t p, int64_t o, float acc) const {
    const float v = acc + xcit::to_float(bias[o]);
    out[p * cout + o] = xcit::from_float<T>(gelu ? xcit::gelu(v) : v);
  }
};

xcit_status check_shape(xcit_ctx* ctx, const char* op, int64_t batch, int64_t height,
                        int64_t width, int64_t in_channels, int64_t out_channels) {
  xcit_status st;
  if ((st = xcit_check_matrix(ctx, op, height, width)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch, height * width)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * height * width, in_channels)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, in_channels, 9)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, out_channels, in_channels * 9)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * height * width, out_channels)) != XCIT_OK) {
    return st;
  }
  // The split-K workspace needs no check of its own: K is split only below 128 tiles of
  // 64 x 64, so it is at most 8 x 128 x 4096 floats (gemm_tile.h).
  return XCIT_OK;
}

// The GEMM's M (output pixels) for this input.
int64_t output_pixels(int64_t batch, int64_t height, int64_t width) {
  return batch * ((height + 1) / 2) * ((width + 1) / 2);
}

template <class T, class S>
xcit_status conv_entry(const char* op, xcit_ctx* ctx, S* out, void* workspace, const S* in,
                       const S* weight, const S* bias, int64_t batch, int64_t height,
                       int64_t width, int64_t in_channels, int64_t out_channels, int32_t flags) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "in", in)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "weight", weight)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "bias", bias)) != XCIT_OK ||
      (st = check_shape(ctx, op, batch, height, width, in_channels, out_channels)) != XCIT_OK) {
    return st;
  }
  if (xcit::gemm_split_k_workspace_bytes(output_pixels(batch, height, width), out_channels,
                                         in_channels * 9) > 0 &&
      (st = xcit_check_ptr(ctx, op, "workspace", workspace)) != XCIT_OK) {
    return st;
  }
  if ((flags & ~(XCIT_CONV_GELU | XCIT_CUDA_CONV_TAP_MAJOR)) != 0) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT,
                     "%s: unsupported flags 0x%x (XCIT_CONV_GELU, XCIT_CUDA_CONV_TAP_MAJOR only)", op,
                     static_cast<unsigned>(flags));
  }
  const int64_t oh = (height + 1) / 2, ow = (width + 1) / 2, pixels = batch * oh * ow;
  if (pixels == 0 || out_channels == 0) return XCIT_OK;
  if (pixels >= xcit::kFastDivmodLimit || in_channels * 9 >= xcit::kFastDivmodLimit) {
    return xcit_fail(ctx, XCIT_ERR_UNSUPPORTED,
                     "%s: %lld output pixels and K = 9 x %lld input channels: each must be below 2^31",
                     op, static_cast<long long>(pixels), static_cast<long long>(in_channels));
  }
  const xcit::FastDivmod by_cin(in_channels > 0 ? in_channels : 1);  // K = 0: never called
  const Geometry g{height, width, in_channels, by_cin, xcit::FastDivmod(ow), xcit::FastDivmod(oh)};
  const Window<T> a{reinterpret_cast<const T*>(in), g};
  const PixelStore<T> store{reinterpret_cast<T*>(out), reinterpret_cast<const T*>(bias),
                            out_channels, (flags & XCIT_CONV_GELU) != 0};
  const int64_t k = in_channels * 9;
  float* ws = static_cast<float*>(workspace);
  const cudaStream_t stream = xcit_cuda_stream(ctx);
  if ((flags & XCIT_CUDA_CONV_TAP_MAJOR) == 0) {
    const WeightRows<T> b{reinterpret_cast<const T*>(weight), in_channels, by_cin};
    return xcit_cuda_launched(ctx, op,
                              xcit::gemm_launch_split_k<T>(stream, a, b, store, pixels, out_channels, k, ws));
  }
  // (Cout, 3, 3, Cin): row o is B's row o.
  const xcit::DenseRows<T> b{reinterpret_cast<const T*>(weight), 0, k};
  if constexpr (xcit::kGemmOnTensorCores<T>) {
    // Both operands in 16-byte units where they allow: channel runs of the input, rows of the weight.
    if (xcit::vector_rows<T>(in_channels, {in, weight})) {
      return xcit_cuda_launched(ctx, op,
                                xcit::gemm_launch_split_k<T>(stream, WindowUnits<T>{a}, xcit::DenseRowUnits<T>{b},
                                                             store, pixels, out_channels, k, ws));
    }
  }
  return xcit_cuda_launched(ctx, op,
                            xcit::gemm_launch_split_k<T>(stream, a, b, store, pixels, out_channels, k, ws));
}

}  // namespace

xcit_status xcit_cuda_conv3x3s2_workspace_size(xcit_ctx* ctx, int64_t* bytes, int64_t batch,
                                               int64_t height, int64_t width,
                                               int64_t in_channels, int64_t out_channels) {
  static const char* const op = "xcit_cuda_conv3x3s2_workspace_size";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "bytes", bytes)) != XCIT_OK ||
      (st = check_shape(ctx, op, batch, height, width, in_channels, out_channels)) != XCIT_OK) {
    return st;
  }
  *bytes = xcit::gemm_split_k_workspace_bytes(output_pixels(batch, height, width), out_channels,
                                              in_channels * 9);
  return XCIT_OK;
}

xcit_status xcit_cuda_conv3x3s2_f32(xcit_ctx* ctx, float* out, void* workspace,
                                    const float* in, const float* weight, const float* bias,
                                    int64_t batch, int64_t height, int64_t width,
                                    int64_t in_channels, int64_t out_channels, int32_t flags) {
  return conv_entry<float>("xcit_cuda_conv3x3s2_f32", ctx, out, workspace, in, weight, bias,
                           batch, height, width, in_channels, out_channels, flags);
}
xcit_status xcit_cuda_conv3x3s2_f16(xcit_ctx* ctx, uint16_t* out, void* workspace,
                                    const uint16_t* in, const uint16_t* weight,
                                    const uint16_t* bias, int64_t batch, int64_t height,
                                    int64_t width, int64_t in_channels, int64_t out_channels,
                                    int32_t flags) {
  return conv_entry<xcit::f16>("xcit_cuda_conv3x3s2_f16", ctx, out, workspace, in, weight,
                               bias, batch, height, width, in_channels, out_channels, flags);
}
xcit_status xcit_cuda_conv3x3s2_bf16(xcit_ctx* ctx, uint16_t* out, void* workspace,
                                     const uint16_t* in, const uint16_t* weight,
                                     const uint16_t* bias, int64_t batch, int64_t height,
                                     int64_t width, int64_t in_channels, int64_t out_channels,
                                     int32_t flags) {
  return conv_entry<xcit::bf16>("xcit_cuda_conv3x3s2_bf16", ctx, out, workspace, in, weight,
                                bias, batch, height, width, in_channels, out_channels, flags);
}
