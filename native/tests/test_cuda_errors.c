/* libxcit_cuda.so without a GPU: argument errors, and CUDA failures (no driver, no
 * device) turned into XCIT_ERR_CUDA with the runtime's text, never a crash. On a GPU
 * machine the no-device checks are skipped and only the argument checks run. */
#include "test_util.h"
#include "xcit/xcit_cuda.h"

static void expect(xcit_ctx* ctx, xcit_status got, xcit_status want, const char* text) {
  CHECK(got == want, "expected %s, got %s (%s)", xcit_status_string(want),
        xcit_status_string(got), xcit_ctx_last_error(ctx));
  CHECK(strstr(xcit_ctx_last_error(ctx), text) != NULL, "error text '%s' lacks '%s'",
        xcit_ctx_last_error(ctx), text);
}

int main(void) {
  xcit_ctx* ctx = NULL;
  if (xcit_ctx_create(&ctx) != XCIT_OK) return 1;
  CHECK(xcit_cuda_abi_version() == XCIT_ABI_VERSION, "abi %d", (int)xcit_cuda_abi_version());

  /* Never dereferenced: every call below fails before a launch (or the launch fails
   * for lack of a device), so any non-NULL value will do. */
  float* fake = (float*)(uintptr_t)0x1000;
  expect(ctx, xcit_cuda_layernorm_f32(ctx, NULL, fake, fake, fake, 1, 8, 1e-6f),
         XCIT_ERR_INVALID_ARGUMENT, "out is NULL");
  expect(ctx, xcit_cuda_layernorm_f32(ctx, fake, fake, NULL, fake, 1, 8, 1e-6f),
         XCIT_ERR_INVALID_ARGUMENT, "gamma is NULL");
  expect(ctx, xcit_cuda_layernorm_f32(ctx, fake, fake, fake, fake, 2, 0, 1e-6f),
         XCIT_ERR_INVALID_ARGUMENT, "cols = 0");
  CHECK(xcit_cuda_layernorm_f32(ctx, fake, fake, fake, fake, 0, 8, 1e-6f) == XCIT_OK,
        "rows = 0 must be a no-op");
  CHECK(xcit_cuda_device_count(NULL, NULL) == XCIT_ERR_INVALID_ARGUMENT, "NULL ctx");

  int32_t count = -1;
  const xcit_status st = xcit_cuda_device_count(ctx, &count);
  if (st == XCIT_OK && count > 0) {
    printf("test_cuda_errors: %d device(s); no-device checks skipped\n", (int)count);
  } else {
    printf("test_cuda_errors: no usable device: %s\n", xcit_ctx_last_error(ctx));
    CHECK(count == 0, "count %d on failure", (int)count);
    if (st != XCIT_OK) {
      expect(ctx, st, XCIT_ERR_CUDA, "cudaGetDeviceCount failed");
    }
    expect(ctx, xcit_cuda_layernorm_f32(ctx, fake, fake, fake, fake, 1, 8, 1e-6f),
           XCIT_ERR_CUDA, "kernel launch failed");
  }
  xcit_ctx_destroy(ctx);
  return test_summary("test_cuda_errors");
}
