// Storage type conversions (xcit_cuda.h): host staging buffers are fp32, a session's
// activations may be fp16 or bf16. One kernel template per (in, out) pair, chosen at run
// time from the type codes.
#include "cuda/cuda_check.h"
#include "cuda/elementwise.h"
#include "xcit/xcit_cuda.h"

namespace {

const char* const OP = "xcit_cuda_convert";

template <class In, class Out>
__global__ void convert_kernel(Out* out, const In* in, int64_t n) {
  for (int64_t i = xcit::grid_start(); i < n; i += xcit::grid_stride()) {
    out[i] = xcit::from_float<Out>(xcit::to_float(in[i]));
  }
}

template <class In, class Out>
cudaError_t convert_launch(cudaStream_t stream, void* out, const void* in, int64_t n) {
  return xcit_launch(convert_kernel<In, Out>, xcit::elementwise_grid(n),
                     dim3(xcit::kElementwiseThreads), 0, stream, static_cast<Out*>(out),
                     static_cast<const In*>(in), n);
}

template <class In>
cudaError_t convert_to(cudaStream_t stream, void* out, int32_t out_type, const void* in,
                       int64_t n) {
  switch (out_type) {
    case XCIT_CUDA_F32: return convert_launch<In, float>(stream, out, in, n);
    case XCIT_CUDA_F16: return convert_launch<In, xcit::f16>(stream, out, in, n);
    default: return convert_launch<In, xcit::bf16>(stream, out, in, n);
  }
}

bool valid_type(int32_t t) { return t == XCIT_CUDA_F32 || t == XCIT_CUDA_F16 || t == XCIT_CUDA_BF16; }

}  // namespace

xcit_status xcit_cuda_convert(xcit_ctx* ctx, void* out, int32_t out_type, const void* in,
                              int32_t in_type, int64_t count) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "in", in)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, OP, count, 1)) != XCIT_OK) {
    return st;
  }
  if (!valid_type(out_type) || !valid_type(in_type)) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT,
                     "%s: type codes %d -> %d, expected XCIT_CUDA_F32/F16/BF16 (0/1/2)", OP,
                     static_cast<int>(in_type), static_cast<int>(out_type));
  }
  if (count == 0) return XCIT_OK;
  const cudaStream_t stream = xcit_cuda_stream(ctx);
  cudaError_t err;
  switch (in_type) {
    case XCIT_CUDA_F32: err = convert_to<float>(stream, out, out_type, in, count); break;
    case XCIT_CUDA_F16: err = convert_to<xcit::f16>(stream, out, out_type, in, count); break;
    default: err = convert_to<xcit::bf16>(stream, out, out_type, in, count); break;
  }
  return xcit_cuda_launched(ctx, OP, err);
}
