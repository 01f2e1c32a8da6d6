/* Internal: the CPU side of a ctx (threads, ISA, scratch) for the op entry points. */
#ifndef XCIT_CPU_RUNTIME_H
#define XCIT_CPU_RUNTIME_H

#include <stddef.h>

#include "common/ctx_internal.h"
#include "common/error.h"
#include "cpu/kernels.h"

/* Sets a new ctx's CPU fields: all cores, the best ISA the host supports, no scratch. */
void xcit_cpu_ctx_init(xcit_ctx* ctx);

/* At least `bytes` of 64-byte-aligned scratch owned by ctx (kept and reused, grown only
 * when a call needs more, so steady-state calls allocate nothing). NULL after recording
 * XCIT_ERR_OUT_OF_MEMORY for `op` in ctx. */
float* xcit_cpu_scratch(xcit_ctx* ctx, const char* op, int64_t bytes);

/* The kernel table and team size of ctx, for entry points. */
static inline const struct xcit_cpu_kernels* xcit_cpu_k(const xcit_ctx* ctx) {
  return ctx->cpu_kernels;
}
static inline int xcit_cpu_threads_of(const xcit_ctx* ctx) { return ctx->cpu_threads; }

#endif /* XCIT_CPU_RUNTIME_H */
