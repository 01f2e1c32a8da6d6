/* Threads, instruction set and scratch of a ctx (xcit.h, runtime.h). */
#include "cpu/runtime.h"

#include <omp.h>
#include <stdlib.h>

/* The widest kernel set this CPU runs: AVX-512 needs F, BW, VL and DQ (the kernels use
 * 512-bit float ops only, but compile with the Skylake-SP baseline), AVX2 needs FMA. */
int32_t xcit_cpu_best_isa(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    return XCIT_ISA_AVX512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return XCIT_ISA_AVX2;
  }
  return XCIT_ISA_GENERIC;
}

static const struct xcit_cpu_kernels* table(int32_t isa) {
  switch (isa) {
    case XCIT_ISA_AVX512: return &xcit_cpu_kernels_avx512;
    case XCIT_ISA_AVX2: return &xcit_cpu_kernels_avx2;
    default: return &xcit_cpu_kernels_generic;
  }
}

void xcit_cpu_ctx_init(xcit_ctx* ctx) {
  ctx->cpu_threads = omp_get_num_procs(); /* the cores this process may run on */
  if (ctx->cpu_threads < 1) ctx->cpu_threads = 1;
  ctx->cpu_isa = xcit_cpu_best_isa();
  ctx->cpu_kernels = table(ctx->cpu_isa);
  ctx->scratch = NULL;
  ctx->scratch_bytes = 0;
}

xcit_status xcit_cpu_set_threads(xcit_ctx* ctx, int32_t threads) {
  if (ctx == NULL) return XCIT_ERR_INVALID_ARGUMENT;
  if (threads < 0 || threads > 4096) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT,
                     "xcit_cpu_set_threads: threads = %d must be in [0, 4096] (0 = all cores)",
                     (int)threads);
  }
  ctx->cpu_threads = threads == 0 ? omp_get_num_procs() : threads;
  if (ctx->cpu_threads < 1) ctx->cpu_threads = 1;
  /* The calling thread's OpenMP default too: oneDNN (same libgomp) sizes its team with
   * omp_get_max_threads() of the thread that executes a primitive. */
  omp_set_num_threads(ctx->cpu_threads);
  return XCIT_OK;
}

int32_t xcit_cpu_threads(const xcit_ctx* ctx) { return ctx == NULL ? 0 : ctx->cpu_threads; }

xcit_status xcit_cpu_set_isa(xcit_ctx* ctx, int32_t isa) {
  if (ctx == NULL) return XCIT_ERR_INVALID_ARGUMENT;
  if (isa < XCIT_ISA_AUTO || isa > XCIT_ISA_AVX512) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "xcit_cpu_set_isa: unknown isa %d",
                     (int)isa);
  }
  const int32_t best = xcit_cpu_best_isa();
  if (isa == XCIT_ISA_AUTO) isa = best;
  if (isa > best) {
    return xcit_fail(ctx, XCIT_ERR_UNSUPPORTED,
                     "xcit_cpu_set_isa: this CPU lacks %s (best available: %s)",
                     table(isa)->isa_name, table(best)->isa_name);
  }
  ctx->cpu_isa = isa;
  ctx->cpu_kernels = table(isa);
  return XCIT_OK;
}

int32_t xcit_cpu_isa(const xcit_ctx* ctx) { return ctx == NULL ? 0 : ctx->cpu_isa; }

float* xcit_cpu_scratch(xcit_ctx* ctx, const char* op, int64_t bytes) {
  if (bytes <= ctx->scratch_bytes) return ctx->scratch;
  const int64_t rounded = (bytes + 4095) / 4096 * 4096;
  void* fresh = aligned_alloc(64, (size_t)rounded);
  if (fresh == NULL) {
    xcit_fail(ctx, XCIT_ERR_OUT_OF_MEMORY, "%s: cannot allocate %lld bytes of scratch", op,
              (long long)rounded);
    return NULL;
  }
  free(ctx->scratch);
  ctx->scratch = fresh;
  ctx->scratch_bytes = rounded;
  return fresh;
}
