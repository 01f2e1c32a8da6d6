/* Internal: recording failures in the ctx. Hidden symbols, linked into every xcit
 * library; never part of the ABI. */
#ifndef XCIT_ERROR_H
#define XCIT_ERROR_H

#include "xcit/xcit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Formats the message into ctx->last_error (truncated to fit; ctx may be NULL, then
 * only the status is returned) and returns status, so callers write
 * `return xcit_fail(ctx, XCIT_ERR_..., "%s: ...", op, ...);`. */
xcit_status xcit_fail(xcit_ctx* ctx, xcit_status status, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Argument checks shared by all ops; each returns XCIT_OK or records
 * "<op>: <name> ..." in ctx and returns XCIT_ERR_INVALID_ARGUMENT. */

/* ctx itself must not be NULL (there would be nowhere to put the error text). */
xcit_status xcit_check_ctx(const xcit_ctx* ctx);

/* ptr must not be NULL. */
xcit_status xcit_check_ptr(xcit_ctx* ctx, const char* op, const char* name, const void* ptr);

/* A (rows, cols) matrix: rows >= 0, cols >= 0, cols >= 1 when rows > 0, and
 * rows * cols fits in int64_t. rows == 0 is a valid empty matrix whatever cols is. */
xcit_status xcit_check_matrix(xcit_ctx* ctx, const char* op, int64_t rows, int64_t cols);

/* A normalisation epsilon: finite and >= 0. */
xcit_status xcit_check_eps(xcit_ctx* ctx, const char* op, float eps);

/* Sizes of a tensor op: every dims[i] >= 0 and their product fits in int64_t. `names`
 * is the comma-separated list of their names (the macro below passes its own argument
 * text), used to name the offending size in the message. */
xcit_status xcit_check_dims(xcit_ctx* ctx, const char* op, const char* names,
                            const int64_t* dims, int count);

/* XCIT_CHECK_DIMS(ctx, op, batch, height, width): xcit_check_dims on those variables. */
#define XCIT_CHECK_DIMS(ctx, op, ...)                                            \
  xcit_check_dims((ctx), (op), #__VA_ARGS__, (const int64_t[]){__VA_ARGS__},    \
                  (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))

/* Fails with XCIT_ERR_INVALID_ARGUMENT and "<op>: <what>" unless cond holds. */
xcit_status xcit_require(xcit_ctx* ctx, int cond, const char* op, const char* what);

#ifdef __cplusplus
}
#endif

#endif /* XCIT_ERROR_H */
