/* Internal: turning a cudaError_t into an xcit_status with the runtime's text in ctx. */
#ifndef XCIT_CUDA_CHECK_H
#define XCIT_CUDA_CHECK_H

#include "common/ctx_internal.h"
#include "common/error.h"
#include "cuda/compat.h"

/* Records "<op>: <what> failed: <cudaErrorName> (<description>)" in ctx. Allocation
 * failures map to XCIT_ERR_OUT_OF_MEMORY so Java can say "out of GPU memory"; every
 * other runtime error is XCIT_ERR_CUDA. */
static inline xcit_status xcit_cuda_fail(xcit_ctx* ctx, const char* op, const char* what,
                                         cudaError_t err) {
  const xcit_status status =
      err == cudaErrorMemoryAllocation ? XCIT_ERR_OUT_OF_MEMORY : XCIT_ERR_CUDA;
  return xcit_fail(ctx, status, "%s: %s failed: %s (%s)", op, what, cudaGetErrorName(err),
                   cudaGetErrorString(err));
}

/* The stream every op of ctx launches on (xcit_cuda_set_stream; NULL = the legacy
 * default stream). */
static inline cudaStream_t xcit_cuda_stream(const xcit_ctx* ctx) {
  return static_cast<cudaStream_t>(ctx->cuda_stream);
}

/* The launch status of an op: XCIT_OK or "<op>: kernel launch failed: ..." in ctx. */
static inline xcit_status xcit_cuda_launched(xcit_ctx* ctx, const char* op, cudaError_t err) {
  return err == cudaSuccess ? XCIT_OK : xcit_cuda_fail(ctx, op, "kernel launch", err);
}

/* The per-head ops' shape rule: channels a positive multiple of heads
 * (XCIT_ERR_INVALID_ARGUMENT) and a head dimension of at most max_head_dim
 * (XCIT_ERR_UNSUPPORTED: the kernels keep a head's d values in fixed-size arrays). */
static inline xcit_status xcit_cuda_check_heads(xcit_ctx* ctx, const char* op, int64_t channels,
                                                int64_t heads, int64_t max_head_dim) {
  if (heads < 1 || channels < 1 || channels % heads != 0) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT,
                     "%s: channels = %lld must be a positive multiple of heads = %lld", op,
                     static_cast<long long>(channels), static_cast<long long>(heads));
  }
  if (channels / heads > max_head_dim) {
    return xcit_fail(ctx, XCIT_ERR_UNSUPPORTED, "%s: head dim %lld exceeds %lld", op,
                     static_cast<long long>(channels / heads), static_cast<long long>(max_head_dim));
  }
  return XCIT_OK;
}

#endif /* XCIT_CUDA_CHECK_H */
