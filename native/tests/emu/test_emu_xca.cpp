// XCA under the emulator, fp32/fp16/bf16, against the CPU backend:
// - the direct path (xca.cu) against xcit_cpu_xca_f32, both routes: fused (one block per
//   image and head) for token counts 1, 7, 70, 197, split (tokens across blocks, then the
//   apply) for 513, 600 and 1100 (uneven splits, partial chunks and apply tiles); head
//   dims 16/24/32/48/64 (24: tiles padded to 32), batches of 1-2; and the route choice
//   through the workspace size (none for the fused route);
// - the covariance-folded path (xca_covariance.cu, xca_fold.cu, then the two GEMMs the
//   backend runs with linear.cu) against the CPU backend's folded chain, image by image:
//   xcit_cpu_column_sums_f32 (the token sum), xcit_cpu_xca_cov_attention_f32 (the
//   attention), xcit_cpu_xca_cov_mix_f32 and xcit_cpu_xca_cov_finish_f32 (the folded
//   weight W' and bias), and the end result proj(XCA(u)) = u W'^T + b'. The GEMMs
//   between those ops (S = u^T u, T = W_qk S, P = W_proj mixed, and the last one) have
//   no C op in libxcit (the CPU backend runs them through oneDNN from Java), so the test
//   computes them in double; the kernel's cov is compared with that double S.
#include "emu_test.h"

using namespace emu_test;
XCIT_EMU_OP(xca)
XCIT_EMU_OP(xca_covariance)
XCIT_EMU_OP(xca_fold)
XCIT_EMU_OP(linear)

namespace {

// Stand-in for the CPU backend's oneDNN GEMMs, in double: c (m, n) = a (m, k) b + bias,
// with b (k, n), or (n, k) if b_transposed; bias (n) nullable.
std::vector<double> gemm(const float* a, const float* b, const float* bias, int64_t m, int64_t k,
                         int64_t n, bool b_transposed) {
  std::vector<double> c(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = bias != nullptr ? bias[j] : 0.0;
      for (int64_t l = 0; l < k; ++l) {
        acc += static_cast<double>(a[i * k + l]) * (b_transposed ? b[j * k + l] : b[l * n + j]);
      }
      c[i * n + j] = acc;
    }
  return c;
}

// A GEMM's fp32 output, as oneDNN hands it to the next CPU op.
std::vector<float> narrow(const std::vector<double>& v) {
  std::vector<float> f(v.size());
  for (size_t i = 0; i < v.size(); ++i) f[i] = static_cast<float>(v[i]);
  return f;
}

// Each shape from guard-offset buffers (element staging) and from 32-byte aligned ones
// (16-byte units where d allows: xca.cu's Head).
template <class T>
struct Direct {
  static void run(int64_t b, int64_t n, int64_t c, int64_t heads) {
    run(b, n, c, heads, Start::guard);
    run(b, n, c, heads, Start::aligned);
  }
  static void run(int64_t b, int64_t n, int64_t c, int64_t heads, Start start) {
    Ctx ctx;
    const std::string shape = "xca B" + std::to_string(b) + " N" + std::to_string(n) + " C" +
                              std::to_string(c) + " h" + std::to_string(heads) +
                              (start == Start::aligned ? " aligned" : "");
    Buffer<T> qkv(static_cast<size_t>(b * n * 3 * c), start), tau(static_cast<size_t>(heads));
    qkv.fill_uniform(-1, 1);
    tau.fill_uniform(0.5f, 2.0f);
    int64_t bytes = -1;
    EXPECT_OK(ctx, xcit_cuda_xca_workspace_size(ctx, &bytes, b, n, c, heads));
    Buffer<float> workspace(static_cast<size_t>(bytes / 4) + 1);
    Buffer<T> out(static_cast<size_t>(b * n * c), start);
    const auto qf = f32(qkv), tf = f32(tau);
    std::vector<float> want(out.n);
    EXPECT_OK(ctx, xcit_cpu_xca_f32(ctx, want.data(), qf.data(), tf.data(), b, n, c, heads));
    EXPECT_OK(ctx, op::xca<T>(ctx.ctx, out.data(), static_cast<void*>(workspace.data()), qkv.data(),
                              tau.data(), b, n, c, heads));
    // Outputs are convex combinations of v in [-1, 1]: scale 1.
    expect_close(shape, out, widen(want), 1.0);
  }
};

template <class T>
struct Folded {
  static void run(int64_t b, int64_t n, int64_t c, int64_t heads) {
    Ctx ctx;
    const std::string shape = "folded xca B" + std::to_string(b) + " N" + std::to_string(n) + " C" +
                              std::to_string(c) + " h" + std::to_string(heads);
    const int64_t d = c / heads;
    const float ws = 1.0f / std::sqrt(static_cast<float>(c));
    Buffer<T> u(static_cast<size_t>(b * n * c)), wqkv(static_cast<size_t>(3 * c * c)),
        bqkv(static_cast<size_t>(3 * c)), tau(static_cast<size_t>(heads)), wp(static_cast<size_t>(c * c)),
        bp(static_cast<size_t>(c));
    u.fill_uniform(-1, 1);
    wqkv.fill_uniform(-ws, ws);
    bqkv.fill_uniform(-0.5f, 0.5f);
    tau.fill_uniform(0.5f, 2.0f);
    wp.fill_uniform(-ws, ws);
    bp.fill_uniform(-0.5f, 0.5f);
    const auto uf = f32(u), wqkvf = f32(wqkv), bqkvf = f32(bqkv), tf = f32(tau), wpf = f32(wp),
               bpf = f32(bp);

    // The CPU backend's folded chain (its ops take one image at a time; gamma NULL).
    const int64_t cc = c * c;
    std::vector<double> s_ref(static_cast<size_t>(b * cc)), y_ref;
    std::vector<float> m_ref(static_cast<size_t>(b * c)), attn_ref(static_cast<size_t>(b * heads * d * d)),
        wfold_ref(static_cast<size_t>(b * cc)), bfold_ref(static_cast<size_t>(b * c));
    for (int64_t img = 0; img < b; ++img) {
      const float* ui = uf.data() + img * n * c;
      EXPECT_OK(ctx, xcit_cpu_column_sums_f32(ctx, m_ref.data() + img * c, ui, n, c));
      for (int64_t t = 0; t < n; ++t)
        for (int64_t i = 0; i < c; ++i)
          for (int64_t j = 0; j < c; ++j) {
            s_ref[img * cc + i * c + j] += static_cast<double>(ui[t * c + i]) * ui[t * c + j];
          }
      const auto s = narrow(std::vector<double>(s_ref.begin() + img * cc, s_ref.begin() + (img + 1) * cc));
      const auto tm = narrow(gemm(wqkvf.data(), s.data(), nullptr, 2 * c, c, c, false));
      float* attn = attn_ref.data() + img * heads * d * d;
      EXPECT_OK(ctx, xcit_cpu_xca_cov_attention_f32(ctx, attn, tm.data(), wqkvf.data(), bqkvf.data(),
                                                    m_ref.data() + img * c, tf.data(), n, c, heads));
      std::vector<float> mixed(static_cast<size_t>(cc)), vb(static_cast<size_t>(c));
      EXPECT_OK(ctx, xcit_cpu_xca_cov_mix_f32(ctx, mixed.data(), vb.data(), attn, wqkvf.data(),
                                              bqkvf.data(), c, heads));
      const auto pm = narrow(gemm(wpf.data(), mixed.data(), nullptr, c, c, c, false));
      float* wfold = wfold_ref.data() + img * cc;
      float* bfold = bfold_ref.data() + img * c;
      EXPECT_OK(ctx, xcit_cpu_xca_cov_finish_f32(ctx, wfold, bfold, pm.data(), wpf.data(), bpf.data(),
                                                 vb.data(), nullptr, c));
      const auto y = gemm(ui, wfold, bfold, n, c, c, true);
      y_ref.insert(y_ref.end(), y.begin(), y.end());
    }

    // cov / sum: fp32 outputs whatever T; sums of N products of values in [-1, 1].
    int64_t bytes = -1;
    EXPECT_OK(ctx, xcit_cuda_xca_covariance_workspace_size(ctx, &bytes, b, n, c));
    Buffer<float> workspace(static_cast<size_t>(bytes / 4) + 1);
    Buffer<float> cov(static_cast<size_t>(b * c * c)), sum(static_cast<size_t>(b * c));
    EXPECT_OK(ctx, op::xca_covariance<T>(ctx.ctx, cov.data(), sum.data(),
                                         static_cast<void*>(workspace.data()), u.data(), b, n, c));
    expect_close(shape + " cov (double GEMM)", cov, s_ref, static_cast<double>(n));
    expect_close(shape + " sum", sum, widen(m_ref), std::sqrt(static_cast<double>(n)));

    // Fold: the attention (fp32) and fold / fold_bias (T).
    Buffer<T> fold(static_cast<size_t>(b * c * c)), fold_bias(static_cast<size_t>(b * c));
    Buffer<float> attn(static_cast<size_t>(b * heads * d * d));
    EXPECT_OK(ctx, op::xca_fold<T>(ctx.ctx, fold.data(), fold_bias.data(), attn.data(), cov.data(),
                                   sum.data(), wqkv.data(), bqkv.data(), tau.data(), wp.data(),
                                   bp.data(), b, n, c, heads));
    // Both sides form the Gram from the covariance, cancelling terms of size ~N against
    // each other, so the probabilities carry ~1e-6 * N / |G| relative error in fp32 on
    // each side: 1e-4 absolute (scale 5) is ample.
    expect_close(shape + " attention", attn, widen(attn_ref), 5.0);
    // fold_bias = proj_weight blockdiag(A) v_bias + proj_bias: the CPU's bfold.
    const auto bfold = widen(bfold_ref);
    expect_close(shape + " fold_bias", fold_bias, bfold, 4.0 * rms(bfold));

    // The backend's two GEMMs: W' = fold * W_v (weight W_v^T), y = u W'^T + fold_bias.
    Buffer<T> wv_t(static_cast<size_t>(c * c)), w_prime(static_cast<size_t>(b * c * c)),
        out(static_cast<size_t>(b * n * c));
    for (int64_t i = 0; i < c; ++i)
      for (int64_t j = 0; j < c; ++j) wv_t[j * c + i] = wqkv[(2 * c + i) * c + j];
    EXPECT_OK(ctx, op::linear<T>(ctx.ctx, w_prime.data(), fold.data(), wv_t.data(),
                                 static_cast<const T*>(nullptr), int64_t{1}, b * c, c, c, int32_t{0}));
    EXPECT_OK(ctx, op::linear<T>(ctx.ctx, out.data(), u.data(), w_prime.data(), fold_bias.data(), b,
                                 n, c, c, int32_t{XCIT_CUDA_LINEAR_BATCHED_WEIGHTS}));
    // fold, W' and fold_bias are each rounded to T before the last GEMM: for 16-bit
    // types that is three roundings of O(1) quantities summed over C terms, hence the
    // RMS-relative scale of 4.
    const auto wfold = widen(wfold_ref);
    expect_close(shape + " W' (CPU wfold)", w_prime, wfold, 4.0 * rms(wfold));
    expect_close(shape + " proj(XCA(u))", out, y_ref, 4.0 * rms(y_ref));
  }
};

void check_errors() {
  Ctx ctx;
  float buf[64] = {};
  int64_t bytes = 0;
  EXPECT(xcit_cuda_xca_workspace_size(ctx, &bytes, 1, 4, 130, 2) == XCIT_ERR_UNSUPPORTED, "d = 65");
  // The route: fused (no workspace) up to 512 tokens or from 256 (image, head) blocks on.
  const int64_t routes[][5] = {{1, 512, 384, 8, 0}, {1, 513, 384, 8, 1}, {32, 4096, 384, 8, 0},
                               {31, 4096, 384, 8, 1}};
  for (const auto& r : routes) {
    EXPECT_OK(ctx, xcit_cuda_xca_workspace_size(ctx, &bytes, r[0], r[1], r[2], r[3]));
    EXPECT((bytes > 0) == (r[4] == 1), "B %lld N %lld: workspace %lld bytes", static_cast<long long>(r[0]),
           static_cast<long long>(r[1]), static_cast<long long>(bytes));
  }
  EXPECT(xcit_cuda_xca_f32(ctx, buf, buf, buf, buf, 1, 4, 10, 3) == XCIT_ERR_INVALID_ARGUMENT, "10 %% 3");
  EXPECT(std::strstr(ctx.error(), "multiple of heads") != nullptr, "text: %s", ctx.error());
  EXPECT(xcit_cuda_xca_f32(ctx, buf, nullptr, buf, buf, 1, 4, 8, 1) == XCIT_ERR_INVALID_ARGUMENT,
         "NULL workspace");
}

}  // namespace

int main() {
  require_device("test_xca");
  // (B, N, C, heads): fused up to 512 tokens: d = 32, 48, 24, 64; N = 1, 7 (one partial
  // chunk), 70, 197 (several chunks, the last partial). Split beyond (B * heads < 256):
  // N = 513 (9 splits, d = 16), 600 (10 uneven splits, d = 48), 1100 (18 splits, d = 64).
  // d = 18 and 36 are no multiple of a 16-byte unit (elements even from aligned buffers).
  const int64_t direct[][4] = {{1, 1, 32, 1},    {2, 7, 96, 2},    {1, 70, 48, 1},
                               {2, 70, 48, 2},   {2, 197, 128, 2}, {1, 513, 32, 2},
                               {1, 600, 96, 2},  {1, 1100, 64, 1}, {2, 70, 36, 2},
                               {1, 520, 36, 1}};
  // Folded: C not a multiple of the 64-wide GEMM tile or the 16-column fold step (96),
  // N from 7 to 600 (two covariance slices).
  const int64_t folded[][4] = {{1, 7, 32, 1}, {2, 50, 96, 2}, {1, 600, 64, 2}};
  with_folded_grids([&] {
    for (const auto& s : direct) for_each_type<Direct>(s[0], s[1], s[2], s[3]);
    for (const auto& s : folded) for_each_type<Folded>(s[0], s[1], s[2], s[3]);
  });
  check_errors();
  return summary("test_emu_xca");
}
