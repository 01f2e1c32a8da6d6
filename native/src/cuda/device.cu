// ABI version and device discovery for libxcit_cuda.so (xcit_cuda.h).
#include "cuda/cuda_check.h"
#include "xcit/xcit_cuda.h"

int32_t xcit_cuda_abi_version(void) { return XCIT_ABI_VERSION; }

int32_t xcit_cuda_runtime_version(void) { return CUDART_VERSION; }

xcit_status xcit_cuda_device_count(xcit_ctx* ctx, int32_t* count) {
  static const char* const op = "xcit_cuda_device_count";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "count", count)) != XCIT_OK) {
    return st;
  }
  *count = 0;
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    // With no driver this is cudaErrorInsufficientDriver / cudaErrorNoDevice: the
    // normal "no GPU here" answer. Clear it so it does not surface in a later
    // cudaGetLastError as if a kernel launch had failed.
    (void)cudaGetLastError();
    return xcit_cuda_fail(ctx, op, "cudaGetDeviceCount", err);
  }
  *count = (int32_t)n;
  return XCIT_OK;
}

xcit_status xcit_cuda_set_stream(xcit_ctx* ctx, void* stream) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK) return st;
  ctx->cuda_stream = stream;  // NULL is valid: the legacy default stream
  return XCIT_OK;
}
