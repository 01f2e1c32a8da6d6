/* Internal: the table of CPU kernels, one instance per instruction set.
 *
 * A kernel does the arithmetic of one op on arguments its exported entry point (the same
 * op file, compiled without ISA flags) has already validated; it never fails. `threads`
 * is the OpenMP team size; `scratch` (where present) is caller-owned memory of the size
 * the entry computed, `threads` slices of it when per-thread.
 * XCIT_CPU_KERNELS lists them once: simd.h turns it into prototypes, kernel_table.c into
 * the table, and ctx.c picks avx512, avx2 or generic for the host at run time.
 */
#ifndef XCIT_CPU_KERNELS_H
#define XCIT_CPU_KERNELS_H

#include <stdint.h>

#include "xcit/xcit.h"

/* Channel counts in scratch layouts are padded to a multiple of this (the widest VLEN),
 * so an entry point can size scratch without knowing which ISA will run. */
#define XCIT_PAD 16
static inline int64_t xcit_pad(int64_t n) { return (n + XCIT_PAD - 1) / XCIT_PAD * XCIT_PAD; }

#define XCIT_CPU_KERNELS(X)                                                                  \
  X(layernorm, (float* out, const float* in, const float* gamma, const float* beta,          \
                int64_t rows, int64_t cols, float eps, int threads))                          \
  X(layernorm_to_bf16, (uint16_t* out, const float* in, const float* gamma, const float* beta, \
                        int64_t rows, int64_t cols, float eps, float* scratch, int threads))  \
  X(add_layernorm, (float* x, float* out, const float* y, const float* scale,                \
                    const float* gamma, const float* beta, int64_t rows, int64_t cols,       \
                    float eps, int threads))                                                  \
  X(gelu, (float* x, int64_t n, int threads))                                                \
  X(add_scaled, (float* x, const float* y, const float* scale, int64_t rows, int64_t cols,   \
                 int threads))                                                                \
  X(add_broadcast, (float* x, const float* rows, int64_t total, int64_t period, int threads)) \
  X(channel_affine, (float* x, const float* scale, const float* shift, int64_t rows,         \
                     int64_t cols, int threads))                                              \
  X(conv3x3s2, (float* out, const float* in, const float* weight, const float* bias,         \
                int64_t batch, int64_t height, int64_t width, int64_t cin, int64_t cout,     \
                int64_t first_row, int64_t out_rows, int32_t flags, float* scratch,           \
                int threads))                                                                 \
  X(im2col3x3s2, (float* out, const float* in, int64_t height, int64_t width, int64_t cin,   \
                  int64_t row0, int64_t rows, int threads))                                  \
  X(xca, (float* out, const float* qkv, const float* temperature, int64_t batch,             \
          int64_t tokens, int64_t channels, int64_t heads, float* scratch, int threads))      \
  X(xca_gram, (float* stats, const float* qk, int64_t rows, int64_t channels, int64_t heads,  \
               int32_t accumulate, float* scratch, int threads))                              \
  X(xca_softmax, (float* attn, const float* stats, const float* temperature,                 \
                  int64_t channels, int64_t heads, float* scratch, int threads))              \
  X(xca_apply, (float* out, const float* v, const float* attn, int64_t rows, int64_t channels, \
                int64_t heads, float* scratch, int threads))                                  \
  X(lpi, (float* out, const float* in, const float* weight1, const float* bias1,             \
          const float* bn_scale, const float* bn_shift, const float* weight2,                \
          const float* bias2, const float* gamma, int64_t batch, int64_t height,             \
          int64_t width, int64_t channels, float* scratch, int threads))                     \
  X(class_attention, (float* out, float* weights, const float* q, const float* kv,           \
                      int64_t batch, int64_t rows, int64_t channels, int64_t heads,          \
                      float* scratch, int threads))                                           \
  X(class_attention_fold_query, (float* keys, const float* q, const float* kw,              \
                                 const float* kb, int64_t channels, int64_t heads,           \
                                 int threads))                                                \
  X(class_attention_folded_scores, (float* scores, const float* keys, const float* u,        \
                                    int64_t rows, int64_t channels, int64_t heads,           \
                                    int64_t stride, int threads))                             \
  X(class_attention_folded_sum, (float* ubar, const float* weights, const float* u,          \
                                 int64_t rows, int64_t channels, int64_t heads,              \
                                 int64_t stride, int32_t accumulate, float* scratch,         \
                                 int threads))                                                \
  X(class_attention_folded_out, (float* out, const float* ubar, const float* vw,             \
                                 const float* vb, int64_t channels, int64_t heads,           \
                                 int threads))                                                \
  X(softmax_rows, (float* x, int64_t rows, int64_t cols, int threads))                       \
  X(conv_transpose2x2, (float* out, const float* in, const float* weight, const float* bias, \
                        int64_t pixels, int64_t width, int64_t cin, int64_t cout,            \
                        float* scratch, int threads))                                         \
  X(column_sums, (float* out, const float* in, int64_t rows, int64_t cols, float* scratch,     \
                  int threads))                                                               \
  X(xca_cov_attention, (float* attn, const float* t, const float* wqk, const float* bqk,     \
                        const float* colsum, int64_t tokens, const float* temperature,       \
                        int64_t channels, int64_t heads, float* scratch, int threads))       \
  X(xca_cov_mix, (float* mixed, float* vb, const float* attn, const float* wqkv,             \
                  const float* bqkv, int64_t channels, int64_t heads, int threads))             \
  X(xca_cov_finish, (float* wfold, float* bfold, const float* p, const float* wproj,         \
                     const float* bproj, const float* vb, const float* gamma,                \
                     int64_t channels, int threads))                                          \
  X(to_bf16, (uint16_t* out, const float* in, int64_t n, int threads))                        \
  X(max_pool, (float* out, const float* in, int64_t batch, int64_t height, int64_t width,    \
               int64_t channels, int64_t k, int threads))

#define XCIT_CPU_KERNEL_FIELD(name, args) void(*name) args;
struct xcit_cpu_kernels {
  const char* isa_name;
  XCIT_CPU_KERNELS(XCIT_CPU_KERNEL_FIELD)
};
#undef XCIT_CPU_KERNEL_FIELD

extern const struct xcit_cpu_kernels xcit_cpu_kernels_avx512;
extern const struct xcit_cpu_kernels xcit_cpu_kernels_avx2;
extern const struct xcit_cpu_kernels xcit_cpu_kernels_generic;

#endif /* XCIT_CPU_KERNELS_H */
