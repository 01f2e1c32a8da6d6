// Storage type conversions (xcit_cuda.h): host staging buffers are fp32, a session's
// activations may be fp16 or bf16. One kernel template per (in, out) pair, chosen at run
// time from the type codes; xcit_cuda_convert_many converts up to XCIT_CUDA_CONVERT_MAX
// tensors in one launch (a session's outputs at the end of its graph: one kernel instead
// of one per output). The reference is an element-wise rounding (from_float).
#include "cuda/cuda_check.h"
#include "cuda/elementwise.h"
#include "xcit/xcit_cuda.h"

namespace {

// The pairs of one launch, by value (a captured launch keeps its own copy), and where
// each starts in their concatenation: element i of the launch belongs to the last pair
// with start <= i.
struct Pairs {
  void* out[XCIT_CUDA_CONVERT_MAX];
  const void* in[XCIT_CUDA_CONVERT_MAX];
  int64_t start[XCIT_CUDA_CONVERT_MAX + 1];
  int32_t n;
};

template <class In, class Out>
__global__ void convert_kernel(Pairs p) {
  const int64_t total = p.start[p.n];
  int k = 0;  // grid-stride indices only grow, so the pair index only moves forward
  for (int64_t i = xcit::grid_start(); i < total; i += xcit::grid_stride()) {
    while (i >= p.start[k + 1]) ++k;
    const int64_t j = i - p.start[k];
    static_cast<Out*>(p.out[k])[j] = xcit::from_float<Out>(xcit::to_float(static_cast<const In*>(p.in[k])[j]));
  }
}

template <class In, class Out>
cudaError_t convert_launch(cudaStream_t stream, const Pairs& p) {
  return xcit_launch(convert_kernel<In, Out>, xcit::elementwise_grid(p.start[p.n]),
                     dim3(xcit::kElementwiseThreads), 0, stream, p);
}

template <class In>
cudaError_t convert_to(cudaStream_t stream, int32_t out_type, const Pairs& p) {
  switch (out_type) {
    case XCIT_CUDA_F32: return convert_launch<In, float>(stream, p);
    case XCIT_CUDA_F16: return convert_launch<In, xcit::f16>(stream, p);
    default: return convert_launch<In, xcit::bf16>(stream, p);
  }
}

bool valid_type(int32_t t) { return t == XCIT_CUDA_F32 || t == XCIT_CUDA_F16 || t == XCIT_CUDA_BF16; }

xcit_status convert_entry(const char* op, xcit_ctx* ctx, int32_t n, void* const* out, int32_t out_type,
                          const void* const* in, int32_t in_type, const int64_t* counts) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK) return st;
  if (n < 0 || n > XCIT_CUDA_CONVERT_MAX) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: %d conversions, at most %d", op,
                     static_cast<int>(n), XCIT_CUDA_CONVERT_MAX);
  }
  if (!valid_type(out_type) || !valid_type(in_type)) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT,
                     "%s: type codes %d -> %d, expected XCIT_CUDA_F32/F16/BF16 (0/1/2)", op,
                     static_cast<int>(in_type), static_cast<int>(out_type));
  }
  Pairs p{};
  p.start[0] = 0;
  for (int32_t k = 0; k < n; ++k) {
    if ((st = xcit_check_ptr(ctx, op, "out", out[k])) != XCIT_OK ||
        (st = xcit_check_ptr(ctx, op, "in", in[k])) != XCIT_OK ||
        (st = xcit_check_matrix(ctx, op, counts[k], 1)) != XCIT_OK ||
        (st = xcit_check_matrix(ctx, op, p.start[p.n] + counts[k], 1)) != XCIT_OK) {
      return st;
    }
    if (counts[k] == 0) continue;  // an empty pair takes no slot
    p.out[p.n] = out[k];
    p.in[p.n] = in[k];
    p.start[p.n + 1] = p.start[p.n] + counts[k];
    ++p.n;
  }
  if (p.n == 0) return XCIT_OK;
  const cudaStream_t stream = xcit_cuda_stream(ctx);
  cudaError_t err;
  switch (in_type) {
    case XCIT_CUDA_F32: err = convert_to<float>(stream, out_type, p); break;
    case XCIT_CUDA_F16: err = convert_to<xcit::f16>(stream, out_type, p); break;
    default: err = convert_to<xcit::bf16>(stream, out_type, p); break;
  }
  return xcit_cuda_launched(ctx, op, err);
}

}  // namespace

xcit_status xcit_cuda_convert(xcit_ctx* ctx, void* out, int32_t out_type, const void* in,
                              int32_t in_type, int64_t count) {
  return convert_entry("xcit_cuda_convert", ctx, 1, &out, out_type, &in, in_type, &count);
}

xcit_status xcit_cuda_convert_many(xcit_ctx* ctx, int32_t n, void* const* out, int32_t out_type,
                                   const void* const* in, int32_t in_type, const int64_t* counts) {
  static const char* const op = "xcit_cuda_convert_many";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK) return st;
  if (n > 0 && ((st = xcit_check_ptr(ctx, op, "out", out)) != XCIT_OK ||
                (st = xcit_check_ptr(ctx, op, "in", in)) != XCIT_OK ||
                (st = xcit_check_ptr(ctx, op, "counts", counts)) != XCIT_OK)) {
    return st;
  }
  return convert_entry(op, ctx, n, out, out_type, in, in_type, counts);
}
