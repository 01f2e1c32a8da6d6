/* xcit_cpu_layernorm_f32 against a naive double reference, plus its argument errors,
 * the status strings and the ctx functions. */
#include "test_util.h"
#include "xcit/xcit.h"

/* Naive reference: the formula in xcit.h, all in double. */
static void reference(double* out, const float* in, const float* gamma, const float* beta,
                      int64_t rows, int64_t cols, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * cols;
    double mean = 0.0, var = 0.0;
    for (int64_t c = 0; c < cols; ++c) mean += x[c];
    mean /= (double)cols;
    for (int64_t c = 0; c < cols; ++c) var += ((double)x[c] - mean) * ((double)x[c] - mean);
    var /= (double)cols;
    for (int64_t c = 0; c < cols; ++c) {
      out[r * cols + c] = ((double)x[c] - mean) / sqrt(var + (double)eps) * gamma[c] + beta[c];
    }
  }
}

/* The op rounds a double result to float once, so it must be within 1 ulp of the
 * reference: 2^-23 relative, plus a tiny absolute term for results near zero (where
 * the double terms that cancel carry ~1e-16 of their own magnitude, ~1 here). */
static int close_enough(float got, double want) {
  return fabs((double)got - want) <= 1.2e-7 * fabs(want) + 1e-12;
}

static void check_case(xcit_ctx* ctx, int64_t rows, int64_t cols, float offset, int in_place) {
  const int64_t n = rows * cols;
  guarded in = guarded_alloc(n), out = guarded_alloc(n);
  guarded gamma = guarded_alloc(cols), beta = guarded_alloc(cols);
  double* want = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
  /* An offset makes the mean large against the spread: the case a one-pass
   * E[x^2] - E[x]^2 variance gets wrong. */
  for (int64_t i = 0; i < n; ++i) in.data[i] = offset + rng_uniform(-2.0f, 2.0f);
  for (int64_t c = 0; c < cols; ++c) {
    gamma.data[c] = rng_uniform(0.5f, 1.5f);
    beta.data[c] = rng_uniform(-0.5f, 0.5f);
  }
  const float eps = 1e-6f;
  reference(want, in.data, gamma.data, beta.data, rows, cols, eps);

  float* dst = in_place ? in.data : out.data;
  const xcit_status st =
      xcit_cpu_layernorm_f32(ctx, dst, in.data, gamma.data, beta.data, rows, cols, eps);
  CHECK(st == XCIT_OK, "rows=%lld cols=%lld: status %s (%s)", (long long)rows, (long long)cols,
        xcit_status_string(st), xcit_ctx_last_error(ctx));

  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!close_enough(dst[i], want[i])) {
      if (bad++ < 3) {
        CHECK(0, "rows=%lld cols=%lld in_place=%d: [%lld] got %.9g want %.9g", (long long)rows,
              (long long)cols, in_place, (long long)i, (double)dst[i], want[i]);
      }
    }
  }
  CHECK(bad == 0, "rows=%lld cols=%lld: %lld mismatches", (long long)rows, (long long)cols,
        (long long)bad);
  CHECK(guard_intact(&in) && guard_intact(&out) && guard_intact(&gamma) && guard_intact(&beta),
        "rows=%lld cols=%lld: write outside the output", (long long)rows, (long long)cols);
  if (!in_place) {
    for (int64_t i = 0; i < n && rows == 0; ++i) CHECK(isnan(out.data[i]), "rows=0 wrote");
  }
  free(want);
  free(in.base);
  free(out.base);
  free(gamma.base);
  free(beta.base);
}

/* Calls the op with one thing wrong and checks the status and that the ctx's text
 * names the culprit. */
static void check_error(xcit_ctx* ctx, float* out, const float* in, const float* gamma,
                        const float* beta, int64_t rows, int64_t cols, float eps,
                        const char* expected_text) {
  const xcit_status st = xcit_cpu_layernorm_f32(ctx, out, in, gamma, beta, rows, cols, eps);
  CHECK(st == XCIT_ERR_INVALID_ARGUMENT, "expected INVALID_ARGUMENT for '%s', got %s",
        expected_text, xcit_status_string(st));
  CHECK(strstr(xcit_ctx_last_error(ctx), expected_text) != NULL,
        "error text '%s' does not contain '%s'", xcit_ctx_last_error(ctx), expected_text);
}

static void check_errors(xcit_ctx* ctx) {
  float x[8] = {0}, y[8] = {0}, g[8] = {0}, b[8] = {0};
  CHECK(xcit_cpu_layernorm_f32(NULL, y, x, g, b, 1, 8, 1e-6f) == XCIT_ERR_INVALID_ARGUMENT,
        "NULL ctx accepted");
  check_error(ctx, NULL, x, g, b, 1, 8, 1e-6f, "out is NULL");
  check_error(ctx, y, NULL, g, b, 1, 8, 1e-6f, "in is NULL");
  check_error(ctx, y, x, NULL, b, 1, 8, 1e-6f, "gamma is NULL");
  check_error(ctx, y, x, g, NULL, 1, 8, 1e-6f, "beta is NULL");
  check_error(ctx, y, x, g, b, -1, 8, 1e-6f, "rows = -1");
  check_error(ctx, y, x, g, b, 1, -8, 1e-6f, "cols = -8");
  check_error(ctx, y, x, g, b, 1, 0, 1e-6f, "cols = 0");
  check_error(ctx, y, x, g, b, INT64_MAX / 2, 3, 1e-6f, "overflows");
  check_error(ctx, y, x, g, b, 1, 8, -1.0f, "eps");
  check_error(ctx, y, x, g, b, 1, 8, NAN, "eps");
  /* An empty matrix is fine whatever cols is, and a success keeps the last error. */
  CHECK(xcit_cpu_layernorm_f32(ctx, y, x, g, b, 0, 0, 1e-6f) == XCIT_OK, "rows=0 cols=0");
  CHECK(strstr(xcit_ctx_last_error(ctx), "eps") != NULL, "success cleared the last error");
}

static void check_status_and_ctx(void) {
  CHECK(xcit_abi_version() == XCIT_ABI_VERSION, "abi %d", (int)xcit_abi_version());
  CHECK(strcmp(xcit_status_string(XCIT_OK), "XCIT_OK") == 0, "XCIT_OK");
  CHECK(strcmp(xcit_status_string(XCIT_ERR_INVALID_ARGUMENT), "XCIT_ERR_INVALID_ARGUMENT") == 0,
        "INVALID_ARGUMENT");
  CHECK(strcmp(xcit_status_string(XCIT_ERR_CUDA), "XCIT_ERR_CUDA") == 0, "CUDA");
  CHECK(strcmp(xcit_status_string(XCIT_ERR_INTERNAL), "XCIT_ERR_INTERNAL") == 0, "INTERNAL");
  CHECK(strcmp(xcit_status_string(-7), "XCIT_ERR_UNKNOWN") == 0, "unknown code");
  CHECK(xcit_ctx_create(NULL) == XCIT_ERR_INVALID_ARGUMENT, "ctx_create(NULL)");
  CHECK(xcit_ctx_last_error(NULL) != NULL, "last_error(NULL) is NULL");
  xcit_ctx_destroy(NULL); /* must be harmless */
}

int main(void) {
  xcit_ctx* ctx = NULL;
  if (xcit_ctx_create(&ctx) != XCIT_OK) {
    fprintf(stderr, "xcit_ctx_create failed\n");
    return 1;
  }
  CHECK(strcmp(xcit_ctx_last_error(ctx), "") == 0, "fresh ctx has an error");
  check_status_and_ctx();

  /* Fixed awkward shapes: empty, a single column (var = 0, output = beta), a prime
   * width, XCiT-S's 384, and a row wider than one block of any future kernel. */
  const int64_t shapes[][2] = {{0, 5}, {0, 0}, {1, 1}, {6, 1}, {5, 7}, {3, 384}, {2, 1000}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
    check_case(ctx, shapes[i][0], shapes[i][1], 0.0f, 0);
    check_case(ctx, shapes[i][0], shapes[i][1], 100.0f, 1);
  }
  for (int i = 0; i < 40; ++i) {
    check_case(ctx, rng_int(1, 40), rng_int(1, 400), rng_uniform(-50.0f, 50.0f), i % 2);
  }
  check_errors(ctx);
  xcit_ctx_destroy(ctx);
  return test_summary("test_cpu_layernorm");
}
