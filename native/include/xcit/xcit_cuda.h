/*
 * xcit_cuda.h - the C ABI of libxcit_cuda.so (built only where nvcc is found).
 * Mirrored by bindings/.../xcit/xcit_cuda_h.java. Same rules as xcit.h; contexts come
 * from xcit_ctx_create in libxcit.so (both libraries are built from one tree and
 * share the xcit_ctx layout, hence the separate ABI check below).
 *
 * "device" pointers are CUDA device memory of the current device; ops run on the
 * default stream for now (the ctx will own a stream once sessions exist) and are
 * asynchronous: a status of XCIT_OK means the kernel was launched.
 */
#ifndef XCIT_XCIT_CUDA_H
#define XCIT_XCIT_CUDA_H

#include "xcit/xcit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Returns XCIT_ABI_VERSION as compiled into libxcit_cuda.so; Java checks it against
 * its bindings like xcit_abi_version for libxcit.so. */
XCIT_API int32_t xcit_cuda_abi_version(void);

/* Number of CUDA devices visible. count: host pointer to one int32_t, set to the
 * number of devices, or 0 on failure. With no driver or no GPU this returns
 * XCIT_ERR_CUDA and the ctx says why (e.g. cudaErrorInsufficientDriver). */
XCIT_API xcit_status xcit_cuda_device_count(xcit_ctx* ctx, int32_t* count);

/*
 * LayerNorm over the last dimension on the GPU; same math and argument rules as
 * xcit_cpu_layernorm_f32 (xcit.h), but mean and variance are reduced in fp32 (two
 * passes over the row, a warp-shuffle + shared-memory tree per block), so results
 * differ from the CPU op by rounding only.
 *
 * out:   (rows, cols) row-major float, device; may equal in (in-place).
 * in:    (rows, cols) row-major float, device.
 * gamma: (cols) float, device.   beta: (cols) float, device.
 * rows in [0, 2^31 - 1] (one block per row), cols >= 1 when rows > 0.
 * Errors: XCIT_ERR_INVALID_ARGUMENT as for the CPU op; XCIT_ERR_UNSUPPORTED for more
 * rows than one grid holds; XCIT_ERR_CUDA if the launch fails (text from the runtime).
 */
XCIT_API xcit_status xcit_cuda_layernorm_f32(xcit_ctx* ctx, float* out, const float* in,
                                             const float* gamma, const float* beta,
                                             int64_t rows, int64_t cols, float eps);

#ifdef __cplusplus
}
#endif

#endif /* XCIT_XCIT_CUDA_H */
