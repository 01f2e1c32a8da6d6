/* The CPU runtime (kernel sets, threads) and the element-wise kernels whose exactness the
 * Java tests cannot see at full resolution: GELU against libm's erf on a dense grid for every
 * kernel set, and the bf16 rounding on its edge cases. Plus argument errors. */
#include "test_util.h"
#include "xcit/xcit.h"

static double gelu_ref(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

static void check_gelu(xcit_ctx* ctx, int isa) {
  const int64_t n = 200001; /* [-10, 10] step 1e-4, odd length: exercises the tail path */
  guarded x = guarded_alloc(n);
  for (int64_t i = 0; i < n; ++i) x.data[i] = (float)(-10.0 + 20.0 * (double)i / (double)(n - 1));
  float* in = malloc((size_t)n * sizeof(float));
  memcpy(in, x.data, (size_t)n * sizeof(float));
  CHECK(xcit_cpu_gelu_f32(ctx, x.data, n) == XCIT_OK, "isa %d: %s", isa, xcit_ctx_last_error(ctx));
  double worst = 0.0, worst_x = 0.0, worst_abs = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    /* A&S 7.1.26 (0.75e-7 |x|) plus float32 evaluation (documented: 2.5e-7 |x|), plus
     * float32 rounding of the result. */
    const double want = gelu_ref(in[i]), err = fabs((double)x.data[i] - want);
    const double bound = 2.5e-7 * fabs(in[i]) + 1.2e-7 * fabs(want) + 1e-30;
    if (err / bound > worst) {
      worst = err / bound;
      worst_x = in[i];
      worst_abs = err;
    }
  }
  CHECK(worst <= 1.0, "isa %d: gelu error reaches %.3g x its bound (|err| %.3g at x = %.6g)", isa, worst,
        worst_abs, worst_x);
  CHECK(guard_intact(&x), "isa %d: gelu wrote outside its buffer", isa);
  free(in);
  free(x.base);
}

static uint16_t bf16_of(xcit_ctx* ctx, float f) {
  uint16_t out = 0;
  CHECK(xcit_cpu_to_bf16(ctx, &out, &f, 1) == XCIT_OK, "%s", xcit_ctx_last_error(ctx));
  return out;
}

int main(void) {
  xcit_ctx* ctx = NULL;
  if (xcit_ctx_create(&ctx) != XCIT_OK) return 1;
  CHECK(xcit_cpu_threads(ctx) >= 1, "default threads %d", xcit_cpu_threads(ctx));
  CHECK(xcit_cpu_isa(ctx) == xcit_cpu_best_isa(), "default isa %d", xcit_cpu_isa(ctx));
  CHECK(xcit_cpu_set_threads(ctx, -1) == XCIT_ERR_INVALID_ARGUMENT, "negative threads accepted");
  CHECK(xcit_cpu_set_isa(ctx, 9) == XCIT_ERR_INVALID_ARGUMENT, "isa 9 accepted");
  CHECK(xcit_cpu_set_threads(ctx, 2) == XCIT_OK && xcit_cpu_threads(ctx) == 2, "threads 2");

  for (int isa = XCIT_ISA_GENERIC; isa <= xcit_cpu_best_isa(); ++isa) {
    CHECK(xcit_cpu_set_isa(ctx, isa) == XCIT_OK, "isa %d: %s", isa, xcit_ctx_last_error(ctx));
    check_gelu(ctx, isa);
    /* Round to nearest even on the 16 dropped bits; NaN stays NaN; infinities stay. */
    CHECK(bf16_of(ctx, 1.0f) == 0x3F80, "1.0");
    float f;
    uint32_t bits = 0x3F808000u; /* exactly halfway, even below: stays */
    memcpy(&f, &bits, 4);
    CHECK(bf16_of(ctx, f) == 0x3F80, "tie to even (down)");
    bits = 0x3F818000u; /* halfway, odd below: rounds up */
    memcpy(&f, &bits, 4);
    CHECK(bf16_of(ctx, f) == 0x3F82, "tie to even (up)");
    CHECK((bf16_of(ctx, NAN) & 0x7FC0) == 0x7FC0, "NaN");
    CHECK(bf16_of(ctx, INFINITY) == 0x7F80, "inf");
  }

  CHECK(xcit_cpu_gelu_f32(ctx, NULL, 4) == XCIT_ERR_INVALID_ARGUMENT, "NULL x accepted");
  CHECK(strstr(xcit_ctx_last_error(ctx), "x is NULL") != NULL, "error text: %s", xcit_ctx_last_error(ctx));
  float one = 0.0f;
  CHECK(xcit_cpu_xca_f32(ctx, &one, &one, &one, 1, 1, 6, 4) == XCIT_ERR_INVALID_ARGUMENT, "heads not dividing C accepted");
  CHECK(xcit_cpu_gather_row_f32(ctx, &one, &one, 1, 1, 1, 3) == XCIT_ERR_INVALID_ARGUMENT, "row out of range accepted");
  {
    float s[9] = {1, 2, 3, -1, 4, 5, -1, -1, 6}; /* upper triangle set, lower garbage */
    CHECK(xcit_cpu_symmetrize_upper_f32(ctx, s, 3) == XCIT_OK, "symmetrize: %s", xcit_ctx_last_error(ctx));
    CHECK(s[3] == 2 && s[6] == 3 && s[7] == 5 && s[0] == 1 && s[4] == 4 && s[8] == 6 && s[1] == 2, "symmetrize values");
    CHECK(xcit_cpu_symmetrize_upper_f32(ctx, NULL, 3) == XCIT_ERR_INVALID_ARGUMENT, "NULL s accepted");
  }
  CHECK(xcit_cpu_class_attention_folded_f32(ctx, &one, NULL, &one, &one, &one, NULL, 1, 1, 6, 4) == XCIT_ERR_INVALID_ARGUMENT,
        "class attention: heads not dividing C accepted");
  CHECK(xcit_cpu_class_attention_folded_scores_f32(ctx, &one, &one, &one, 2, 1, 1, 1) == XCIT_ERR_INVALID_ARGUMENT,
        "class attention scores: stride < rows accepted");
  {
    /* Folded class attention on one image, T = 2, C = 2, one head, against values worked by
     * hand: k_t = Wk u_t + bk, v_t = Wv u_t + bv, a = softmax(q . k_t / sqrt 2), out = sum a_t v_t. */
    const float q[2] = {1, 2}, u[4] = {1, 0, 0, 1};
    const float kv_w[8] = {1, 0, 0, 1, /* Wk = I */ 2, 0, 0, 3 /* Wv = diag(2, 3) */};
    const float kv_b[4] = {0.5f, 0, 1, -1};
    float out[2], w[2];
    CHECK(xcit_cpu_class_attention_folded_f32(ctx, out, w, q, u, kv_w, kv_b, 1, 2, 2, 1) == XCIT_OK, "folded: %s",
          xcit_ctx_last_error(ctx));
    const double s0 = (1 * 1.5 + 2 * 0) / sqrt(2.0), s1 = (1 * 0.5 + 2 * 1) / sqrt(2.0); /* q . k_t / sqrt d */
    const double a0 = 1 / (1 + exp(s1 - s0)), a1 = 1 - a0;
    CHECK(fabs(w[0] - a0) < 1e-6 && fabs(w[1] - a1) < 1e-6, "folded weights %g %g, want %g %g", w[0], w[1], a0, a1);
    const double o0 = a0 * 3 + a1 * 1, o1 = a0 * -1 + a1 * 2; /* v_0 = (3, -1), v_1 = (1, 2) */
    CHECK(fabs(out[0] - o0) < 1e-6 && fabs(out[1] - o1) < 1e-6, "folded out %g %g, want %g %g", out[0], out[1], o0, o1);
  }
  xcit_ctx_destroy(ctx);
  return test_summary("test_cpu_runtime");
}
