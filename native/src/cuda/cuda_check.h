/* Internal: turning a cudaError_t into an xcit_status with the runtime's text in ctx. */
#ifndef XCIT_CUDA_CHECK_H
#define XCIT_CUDA_CHECK_H

#include <cuda_runtime.h>

#include "common/error.h"

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

#endif /* XCIT_CUDA_CHECK_H */
