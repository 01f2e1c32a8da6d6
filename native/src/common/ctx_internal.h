/* Internal: the layout behind the opaque xcit_ctx. Shared by libxcit.so (which creates
 * and frees contexts) and libxcit_cuda.so (which only writes errors into them), so any
 * change here bumps XCIT_ABI_VERSION. */
#ifndef XCIT_CTX_INTERNAL_H
#define XCIT_CTX_INTERNAL_H

#include "xcit/xcit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Long enough for "op: argument: reason" plus a CUDA runtime message. */
#define XCIT_ERROR_CAPACITY 512

struct xcit_cpu_kernels; /* src/cpu/kernels.h */

struct xcit_ctx {
  char last_error[XCIT_ERROR_CAPACITY]; /* NUL-terminated, "" until a call fails */
  /* CPU ops (libxcit.so only; libxcit_cuda.so never reads these): */
  int32_t cpu_threads;                          /* OpenMP team size, >= 1 */
  int32_t cpu_isa;                              /* XCIT_ISA_* of cpu_kernels */
  const struct xcit_cpu_kernels* cpu_kernels;   /* the table ops dispatch through */
  void* scratch;                                /* grown on demand, freed with the ctx */
  int64_t scratch_bytes;
  /* libxcit_cuda.so: the cudaStream_t its ops launch on (NULL = legacy default stream),
   * set by xcit_cuda_set_stream. A session captures its stream into a CUDA graph, so the
   * stream must belong to the ctx, not be a global. calloc makes it NULL. */
  void* cuda_stream;
};

#ifdef __cplusplus
}
#endif

#endif /* XCIT_CTX_INTERNAL_H */
