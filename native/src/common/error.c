/* Error recording and the argument checks every op shares (see error.h). */
#include "error.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctx_internal.h"

xcit_status xcit_fail(xcit_ctx* ctx, xcit_status status, const char* fmt, ...) {
  if (ctx != NULL) {
    va_list args;
    va_start(args, fmt);
    /* vsnprintf truncates and always terminates; a formatting error leaves "". */
    if (vsnprintf(ctx->last_error, sizeof ctx->last_error, fmt, args) < 0) {
      ctx->last_error[0] = '\0';
    }
    va_end(args);
  }
  return status;
}

xcit_status xcit_check_ctx(const xcit_ctx* ctx) {
  return ctx == NULL ? XCIT_ERR_INVALID_ARGUMENT : XCIT_OK;
}

xcit_status xcit_check_ptr(xcit_ctx* ctx, const char* op, const char* name, const void* ptr) {
  if (ptr == NULL) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op, name);
  }
  return XCIT_OK;
}

xcit_status xcit_check_matrix(xcit_ctx* ctx, const char* op, int64_t rows, int64_t cols) {
  if (rows < 0) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: rows = %lld is negative", op,
                     (long long)rows);
  }
  if (cols < 0) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: cols = %lld is negative", op,
                     (long long)cols);
  }
  if (rows > 0 && cols == 0) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT,
                     "%s: cols = 0 with rows = %lld (a row needs at least one element)", op,
                     (long long)rows);
  }
  if (rows > 0 && cols > INT64_MAX / rows) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT,
                     "%s: rows * cols = %lld * %lld overflows int64", op, (long long)rows,
                     (long long)cols);
  }
  return XCIT_OK;
}

xcit_status xcit_check_eps(xcit_ctx* ctx, const char* op, float eps) {
  if (!(eps >= 0.0f) || isinf(eps)) { /* !(>=) also catches NaN */
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: eps = %g must be finite and >= 0",
                     op, (double)eps);
  }
  return XCIT_OK;
}

/* The i-th name of "a, b, c" into buf. */
static void nth_name(char* buf, size_t cap, const char* names, int i) {
  const char* p = names;
  for (int k = 0; k < i && p != NULL; ++k) {
    p = strchr(p, ',');
    if (p != NULL) ++p;
  }
  size_t n = 0;
  if (p != NULL) {
    while (*p == ' ') ++p;
    while (p[n] != '\0' && p[n] != ',' && n + 1 < cap) ++n;
    memcpy(buf, p, n);
  }
  buf[n] = '\0';
}

xcit_status xcit_check_dims(xcit_ctx* ctx, const char* op, const char* names,
                            const int64_t* dims, int count) {
  int64_t product = 1;
  for (int i = 0; i < count; ++i) {
    char name[64];
    if (dims[i] < 0) {
      nth_name(name, sizeof name, names, i);
      return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: %s = %lld is negative", op, name,
                       (long long)dims[i]);
    }
    if (__builtin_mul_overflow(product, dims[i], &product)) {
      return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: the sizes (%s) overflow int64", op,
                       names);
    }
  }
  return XCIT_OK;
}

xcit_status xcit_require(xcit_ctx* ctx, int cond, const char* op, const char* what) {
  return cond ? XCIT_OK : xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: %s", op, what);
}
