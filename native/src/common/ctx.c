/* Context lifetime (xcit.h). */
#include <stdlib.h>

#include "ctx_internal.h"
#include "cpu/runtime.h"

xcit_status xcit_ctx_create(xcit_ctx** out) {
  if (out == NULL) {
    return XCIT_ERR_INVALID_ARGUMENT; /* no ctx yet to hold the text */
  }
  /* calloc: last_error starts as "". */
  xcit_ctx* ctx = calloc(1, sizeof *ctx);
  if (ctx == NULL) {
    return XCIT_ERR_OUT_OF_MEMORY;
  }
  xcit_cpu_ctx_init(ctx);
  *out = ctx;
  return XCIT_OK;
}

void xcit_ctx_destroy(xcit_ctx* ctx) {
  if (ctx != NULL) {
    free(ctx->scratch);
  }
  free(ctx); /* free(NULL) is a no-op */
}

const char* xcit_ctx_last_error(const xcit_ctx* ctx) {
  return ctx == NULL ? "xcit_ctx_last_error: ctx is NULL" : ctx->last_error;
}
