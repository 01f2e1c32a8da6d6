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

#endif /* XCIT_CUDA_CHECK_H */
