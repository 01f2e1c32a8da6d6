/*
 * xcit.h - the C ABI of libxcit.so, the one header the Java bindings mirror
 * (bindings/src/main/java/org/xcit4j/bindings/xcit/xcit_h.java; a test there checks
 * that both declare the same functions with the same parameter types).
 *
 * Rules (DESIGN.md section 5): plain C, fixed-width types only, every function returns
 * an xcit_status (0 = ok) except the pure queries below, native code never exits,
 * aborts or prints. Error text is kept in the xcit_ctx passed to the failing call.
 * Argument order: ctx, outputs, inputs, sizes, scalars.
 * Tensors are dense row-major; "host" means ordinary process memory.
 */
#ifndef XCIT_XCIT_H
#define XCIT_XCIT_H

#include <stdint.h>

/* Marks the exported ABI; everything else in the library is built with hidden
 * visibility. */
#if defined(__GNUC__)
#define XCIT_API __attribute__((visibility("default")))
#else
#define XCIT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change to this header or to the xcit_ctx layout
 * (libxcit_cuda.so shares it). Java refuses a library reporting another number. */
#define XCIT_ABI_VERSION 2

/* Returns XCIT_ABI_VERSION as compiled into the library. */
XCIT_API int32_t xcit_abi_version(void);

/* ---- status codes ------------------------------------------------------------- */

typedef int32_t xcit_status;

#define XCIT_OK 0
#define XCIT_ERR_INVALID_ARGUMENT 1 /* NULL pointer, negative or inconsistent size   */
#define XCIT_ERR_OUT_OF_MEMORY 2    /* a host or device allocation failed            */
#define XCIT_ERR_UNSUPPORTED 3      /* valid request this build or device cannot do  */
#define XCIT_ERR_CUDA 4             /* the CUDA runtime reported an error            */
#define XCIT_ERR_INTERNAL 5         /* a bug in xcit itself                          */

/* Static English name of a status ("XCIT_OK", ...; "XCIT_ERR_UNKNOWN" for codes not
 * listed above). Never NULL; the string lives as long as the library is loaded. */
XCIT_API const char* xcit_status_string(xcit_status status);

/* ---- context ------------------------------------------------------------------ */

/* Opaque per-caller state: the last error text now; later the CUDA stream, library
 * handles and workspace. Not thread-safe: one ctx per thread (or per session). */
typedef struct xcit_ctx xcit_ctx;

/* Creates a ctx. out: host pointer to one xcit_ctx* that receives the new context
 * (left untouched on failure). XCIT_ERR_INVALID_ARGUMENT if out is NULL,
 * XCIT_ERR_OUT_OF_MEMORY if the allocation fails. */
XCIT_API xcit_status xcit_ctx_create(xcit_ctx** out);

/* Frees a ctx created by xcit_ctx_create. NULL is accepted and ignored. */
XCIT_API void xcit_ctx_destroy(xcit_ctx* ctx);

/* The error text of the last failed call made with ctx ("" if none has failed; not
 * cleared by successful calls). The string is owned by ctx and valid until the next
 * call with ctx or its destruction. A NULL ctx gives a static message saying so. */
XCIT_API const char* xcit_ctx_last_error(const xcit_ctx* ctx);

/* ---- CPU ops: all pointers are host memory ------------------------------------ */

/*
 * LayerNorm over the last dimension, fp32 in and out:
 *   mean_r = (1/cols) sum_c in[r,c]
 *   var_r  = (1/cols) sum_c (in[r,c] - mean_r)^2          (biased, as torch)
 *   out[r,c] = (in[r,c] - mean_r) / sqrt(var_r + eps) * gamma[c] + beta[c]
 * mean_r and var_r are accumulated in double, two passes over the row (no
 * E[x^2]-E[x]^2 cancellation); the result is rounded to float once.
 *
 * out:   (rows, cols) row-major float, host. May be exactly the same pointer as in
 *        (in-place); any other overlap with in is not allowed.
 * in:    (rows, cols) row-major float, host.
 * gamma: (cols) float, host.   beta: (cols) float, host.
 * rows >= 0 (0 is a no-op); cols >= 1 when rows > 0; eps >= 0 (typically 1e-6).
 * Errors: XCIT_ERR_INVALID_ARGUMENT for a NULL ctx or pointer, a negative size,
 * cols == 0 with rows > 0, rows*cols overflowing int64, or eps < 0 / NaN; the text in
 * ctx names the argument.
 */
XCIT_API xcit_status xcit_cpu_layernorm_f32(xcit_ctx* ctx, float* out, const float* in,
                                            const float* gamma, const float* beta,
                                            int64_t rows, int64_t cols, float eps);

#ifdef __cplusplus
}
#endif

#endif /* XCIT_XCIT_H */
