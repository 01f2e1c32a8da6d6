// XCA under the emulator, fp32/fp16/bf16, against a double reference of Backend.xca:
// - the direct path (xca.cu): token counts 1, 7, 70, 197 (uneven splits, partial token
//   tiles), head dims 32/48/64, batches of 1-2;
// - the covariance-folded path (xca_covariance.cu, xca_fold.cu, then the two GEMMs the
//   backend runs with linear.cu): cov/sum, the attention, and the end result
//   proj(XCA(u)) against the reference computing qkv, XCA and proj directly.
#include "emu_test.h"

using namespace emu_test;
XCIT_EMU_OP(xca)
XCIT_EMU_OP(xca_covariance)
XCIT_EMU_OP(xca_fold)
XCIT_EMU_OP(linear)

namespace {

// Per (image, head) d x d attention from qkv (B, N, 3C), as JavaBackend.xca computes it.
std::vector<double> reference_attention(const std::vector<double>& qkv, int64_t b, int64_t n,
                                        int64_t c, int64_t heads, const std::vector<double>& tau) {
  const int64_t d = c / heads;
  std::vector<double> a(static_cast<size_t>(b * heads * d * d));
  for (int64_t img = 0; img < b; ++img)
    for (int64_t h = 0; h < heads; ++h) {
      std::vector<double> qn(d), kn(d), g(d * d);
      for (int64_t t = 0; t < n; ++t) {
        const double* row = &qkv[(img * n + t) * 3 * c];
        for (int64_t i = 0; i < d; ++i) {
          const double qi = row[h * d + i], ki = row[c + h * d + i];
          qn[i] += qi * qi;
          kn[i] += ki * ki;
          for (int64_t j = 0; j < d; ++j) g[i * d + j] += qi * row[c + h * d + j];
        }
      }
      double* out = &a[((img * heads) + h) * d * d];
      for (int64_t i = 0; i < d; ++i) {
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < d; ++j) {
          out[i * d + j] = tau[h] * g[i * d + j] /
                           (std::max(std::sqrt(qn[i]), 1e-12) * std::max(std::sqrt(kn[j]), 1e-12));
          m = std::max(m, out[i * d + j]);
        }
        for (int64_t j = 0; j < d; ++j) s += out[i * d + j] = std::exp(out[i * d + j] - m);
        for (int64_t j = 0; j < d; ++j) out[i * d + j] /= s;
      }
    }
  return a;
}

// out (B, N, C) = A v per head.
std::vector<double> reference_xca(const std::vector<double>& qkv, const std::vector<double>& a,
                                  int64_t b, int64_t n, int64_t c, int64_t heads) {
  const int64_t d = c / heads;
  std::vector<double> out(static_cast<size_t>(b * n * c));
  for (int64_t img = 0; img < b; ++img)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t t = 0; t < n; ++t)
        for (int64_t i = 0; i < d; ++i) {
          double acc = 0;
          for (int64_t j = 0; j < d; ++j) {
            acc += a[((img * heads + h) * d + i) * d + j] * qkv[(img * n + t) * 3 * c + 2 * c + h * d + j];
          }
          out[(img * n + t) * c + h * d + i] = acc;
        }
  return out;
}

std::vector<double> reference_linear(const std::vector<double>& x, const std::vector<double>& w,
                                     const std::vector<double>& bias, int64_t rows, int64_t k, int64_t o) {
  std::vector<double> y(static_cast<size_t>(rows * o));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < o; ++j) {
      double acc = bias[j];
      for (int64_t i = 0; i < k; ++i) acc += x[r * k + i] * w[j * k + i];
      y[r * o + j] = acc;
    }
  return y;
}

template <class T>
struct Direct {
  static void run(int64_t b, int64_t n, int64_t c, int64_t heads) {
    Ctx ctx;
    const std::string shape = "xca B" + std::to_string(b) + " N" + std::to_string(n) + " C" +
                              std::to_string(c) + " h" + std::to_string(heads);
    Buffer<T> qkv(static_cast<size_t>(b * n * 3 * c)), tau(static_cast<size_t>(heads));
    qkv.fill_uniform(-1, 1);
    tau.fill_uniform(0.5f, 2.0f);
    int64_t bytes = -1;
    EXPECT_OK(ctx, xcit_cuda_xca_workspace_size(ctx, &bytes, b, n, c, heads));
    Buffer<float> workspace(static_cast<size_t>(bytes / 4) + 1);
    Buffer<T> out(static_cast<size_t>(b * n * c));
    const auto q = qkv.values();
    const auto want = reference_xca(q, reference_attention(q, b, n, c, heads, tau.values()), b, n, c, heads);
    EXPECT_OK(ctx, op::xca<T>(ctx.ctx, out.data(), static_cast<void*>(workspace.data()), qkv.data(),
                              tau.data(), b, n, c, heads));
    // Outputs are convex combinations of v in [-1, 1]: scale 1.
    expect_close(shape, out, want, 1.0);
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
    const auto uv = u.values();

    // Reference: qkv = u Wqkv^T + b, XCA, proj.
    const auto qkv = reference_linear(uv, wqkv.values(), bqkv.values(), b * n, c, 3 * c);
    const auto a = reference_attention(qkv, b, n, c, heads, tau.values());
    const auto y = reference_linear(reference_xca(qkv, a, b, n, c, heads), wp.values(), bp.values(), b * n, c, c);

    // cov / sum: fp32 outputs whatever T; sums of N products of values in [-1, 1].
    int64_t bytes = -1;
    EXPECT_OK(ctx, xcit_cuda_xca_covariance_workspace_size(ctx, &bytes, b, n, c));
    Buffer<float> workspace(static_cast<size_t>(bytes / 4) + 1);
    Buffer<float> cov(static_cast<size_t>(b * c * c)), sum(static_cast<size_t>(b * c));
    EXPECT_OK(ctx, op::xca_covariance<T>(ctx.ctx, cov.data(), sum.data(),
                                         static_cast<void*>(workspace.data()), u.data(), b, n, c));
    std::vector<double> cw(cov.n), sw(sum.n);
    for (int64_t img = 0; img < b; ++img)
      for (int64_t t = 0; t < n; ++t)
        for (int64_t i = 0; i < c; ++i) {
          const double ui = uv[(img * n + t) * c + i];
          sw[img * c + i] += ui;
          for (int64_t j = 0; j < c; ++j) cw[(img * c + i) * c + j] += ui * uv[(img * n + t) * c + j];
        }
    expect_close(shape + " cov", cov, cw, static_cast<double>(n));
    expect_close(shape + " sum", sum, sw, std::sqrt(static_cast<double>(n)));

    // Fold: the attention (fp32) and fold / fold_bias (T).
    Buffer<T> fold(static_cast<size_t>(b * c * c)), fold_bias(static_cast<size_t>(b * c));
    Buffer<float> attn(static_cast<size_t>(b * heads * d * d));
    EXPECT_OK(ctx, op::xca_fold<T>(ctx.ctx, fold.data(), fold_bias.data(), attn.data(), cov.data(),
                                   sum.data(), wqkv.data(), bqkv.data(), tau.data(), wp.data(),
                                   bp.data(), b, n, c, heads));
    // The Gram from the covariance cancels terms of size ~N against each other, so the
    // probabilities carry ~1e-6 * N / |G| relative error in fp32: 1e-4 absolute is ample.
    expect_close(shape + " attention", attn, a, 5.0);

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
    expect_close(shape + " proj(XCA(u))", out, y, 4.0 * rms(y));
  }
};

void check_errors() {
  Ctx ctx;
  float buf[64] = {};
  int64_t bytes = 0;
  EXPECT(xcit_cuda_xca_workspace_size(ctx, &bytes, 1, 4, 130, 2) == XCIT_ERR_UNSUPPORTED, "d = 65");
  EXPECT(xcit_cuda_xca_f32(ctx, buf, buf, buf, buf, 1, 4, 10, 3) == XCIT_ERR_INVALID_ARGUMENT, "10 %% 3");
  EXPECT(std::strstr(ctx.error(), "multiple of heads") != nullptr, "text: %s", ctx.error());
  EXPECT(xcit_cuda_xca_f32(ctx, buf, nullptr, buf, buf, 1, 4, 8, 1) == XCIT_ERR_INVALID_ARGUMENT,
         "NULL workspace");
}

}  // namespace

int main() {
  require_device("test_xca");
  // (B, N, C, heads): d = 32, 48, 64; N = 1, 7 (one partial chunk), 70 (two uneven
  // splits), 197 (4 splits, 4 apply tiles, the last partial).
  const int64_t direct[][4] = {{1, 1, 32, 1}, {2, 7, 96, 2}, {1, 70, 48, 1}, {2, 197, 128, 2}};
  for (const auto& s : direct) for_each_type<Direct>(s[0], s[1], s[2], s[3]);
  // Folded: C not a multiple of the 64-wide GEMM tile or the 16-column fold step (96),
  // N from 7 to 600 (two covariance slices).
  const int64_t folded[][4] = {{1, 7, 32, 1}, {2, 50, 96, 2}, {1, 600, 64, 2}};
  for (const auto& s : folded) for_each_type<Folded>(s[0], s[1], s[2], s[3]);
  check_errors();
  return summary("test_emu_xca");
}
