// The class-attention stage under the emulator, fp32/fp16/bf16, against the CPU backend:
// - class_attention (k and v given) against xcit_cpu_class_attention_f32, with and without
//   the attention-weights output: rows T = 1 (only the cls row), 8 (one per warp), 197 and
//   600 (many rows per warp), head dims 32/48/64, batches 1-3;
// - class_attention_folded (k and v folded away) against xcit_cpu_class_attention_folded_f32,
//   with the queries given or computed from row 0 (the reference: that Linear in double),
//   with and without weights and biases: the same shapes plus C = 36 (d = 12: scalar
//   accesses), 384 (8 heads, the vector path) and 1024 (the limit); 1 to 10 row splits
//   merged by the last block (counters back at zero after every call: a second call on
//   the same workspace gives the same bits); tensors 32-byte aligned or not;
// - class_attention_rows against the CPU ops it replaces (xcit_cpu_layernorm_f32, the
//   residual add, xcit_cpu_layernorm_f32 again for tokens_norm), with and without LN2.
#include "emu_test.h"

using namespace emu_test;
XCIT_EMU_OP(class_attention)
XCIT_EMU_OP(class_attention_folded)
XCIT_EMU_OP(class_attention_rows)

namespace {

template <class T>
struct Case {
  static void run(int64_t b, int64_t rows, int64_t c, int64_t heads) {
    Ctx ctx;
    const std::string shape = "class_attention B" + std::to_string(b) + " T" + std::to_string(rows) +
                              " C" + std::to_string(c) + " h" + std::to_string(heads);
    Buffer<T> q(static_cast<size_t>(b * c)), kv(static_cast<size_t>(b * rows * 2 * c));
    // Scores q.k / sqrt(d) of order +-4: a peaked but not one-hot softmax.
    q.fill_uniform(-2, 2);
    kv.fill_uniform(-1.5f, 1.5f);
    const auto qf = f32(q), kvf = f32(kv);
    std::vector<float> ref(static_cast<size_t>(b * c)), ref_w(static_cast<size_t>(b * heads * rows));
    EXPECT_OK(ctx, xcit_cpu_class_attention_f32(ctx, ref.data(), ref_w.data(), qf.data(), kvf.data(),
                                                b, rows, c, heads));
    const std::vector<double> out = widen(ref), weights = widen(ref_w);
    for (const bool with_weights : {true, false}) {
      Buffer<T> got(out.size()), got_w(weights.size());
      EXPECT_OK(ctx, op::class_attention<T>(ctx.ctx, got.data(), with_weights ? got_w.data() : static_cast<T*>(nullptr),
                                            q.data(), kv.data(), b, rows, c, heads));
      expect_close(shape + (with_weights ? "" : " (no weights)"), got, out, 1.5);
      if (with_weights) expect_close(shape + " weights", got_w, weights, 1.0 / static_cast<double>(rows));
    }
  }
};

template <class T>
struct Folded {
  static void run(int64_t b, int64_t rows, int64_t c, int64_t heads) {
    one(b, rows, c, heads, Start::guard, false, true);   // q given, scalar accesses
    one(b, rows, c, heads, Start::aligned, true, true);  // q from Wq, vectors where C allows
    one(b, rows, c, heads, Start::aligned, true, false);  // no biases
  }

  static void one(int64_t b, int64_t rows, int64_t c, int64_t heads, Start start, bool own_query, bool biases) {
    Ctx ctx;
    const std::string shape = "folded B" + std::to_string(b) + " T" + std::to_string(rows) + " C" +
                              std::to_string(c) + " h" + std::to_string(heads) +
                              (own_query ? " q from Wq" : " q given") + (biases ? "" : " no bias") +
                              (start == Start::aligned ? " aligned" : "");
    const float ws = 1.0f / std::sqrt(static_cast<float>(c));
    Buffer<T> u(static_cast<size_t>(b * rows * c), start), q(static_cast<size_t>(b * c)),
        wq(static_cast<size_t>(c * c), start), bq(static_cast<size_t>(c)), wkv(static_cast<size_t>(2 * c * c), start),
        bkv(static_cast<size_t>(2 * c));
    u.fill_uniform(-2, 2);
    q.fill_uniform(-2, 2);
    // Scores of order a few units: a peaked but not one-hot softmax.
    wq.fill_uniform(-2 * ws, 2 * ws);
    bq.fill_uniform(-0.5f, 0.5f);
    wkv.fill_uniform(-2 * ws, 2 * ws);
    bkv.fill_uniform(-0.5f, 0.5f);
    const auto uf = f32(u), wqf = f32(wq), bqf = f32(bq), wkvf = f32(wkv), bkvf = f32(bkv);
    std::vector<float> qf = f32(q);
    if (own_query) {  // the query Linear on each image's row 0, in double
      for (int64_t img = 0; img < b; ++img)
        for (int64_t o = 0; o < c; ++o) {
          double acc = biases ? bqf[o] : 0.0;
          for (int64_t i = 0; i < c; ++i) acc += static_cast<double>(wqf[o * c + i]) * uf[img * rows * c + i];
          qf[img * c + o] = static_cast<float>(acc);
        }
    }
    std::vector<float> ref(static_cast<size_t>(b * c)), ref_w(static_cast<size_t>(b * heads * rows));
    EXPECT_OK(ctx, xcit_cpu_class_attention_folded_f32(ctx, ref.data(), ref_w.data(), qf.data(), uf.data(),
                                                       wkvf.data(), biases ? bkvf.data() : nullptr, b, rows, c,
                                                       heads));
    int64_t bytes = -1;
    EXPECT_OK(ctx, xcit_cuda_class_attention_folded_workspace_size(ctx, &bytes, b, rows, c, heads));
    Buffer<float> workspace(static_cast<size_t>(bytes / 4), Start::aligned);
    for (size_t i = 0; i < workspace.n; ++i) workspace.set(i, 0.0f);  // the counters start at zero
    const T* none = nullptr;
    for (const bool with_weights : {true, false}) {
      Buffer<T> got(ref.size()), got_w(ref_w.size());
      // With weights, twice: the second call must find the counters at zero again.
      for (int call = 0; call < (with_weights ? 2 : 1); ++call) {
        const std::vector<float> first = f32(got);
        EXPECT_OK(ctx, op::class_attention_folded<T>(
                           ctx.ctx, got.data(), with_weights ? got_w.data() : static_cast<T*>(nullptr),
                           static_cast<void*>(workspace.data()), own_query ? none : q.data(), u.data(),
                           own_query ? wq.data() : none, own_query && biases ? bq.data() : none, wkv.data(),
                           biases ? bkv.data() : none, b, rows, c, heads));
        if (call == 1) EXPECT(f32(got) == first, "%s: a second call gave other results", shape.c_str());
      }
      // Outputs are Wv ubar + bv with ubar a convex combination of rows in [-2, 2].
      expect_close(shape + (with_weights ? "" : " (no weights)"), got, widen(ref), 2.0);
      if (with_weights) expect_close(shape + " weights", got_w, widen(ref_w), 1.0 / static_cast<double>(rows));
    }
    for (int64_t i = 0; i < b * heads; ++i) {
      EXPECT(reinterpret_cast<const uint32_t*>(workspace.data())[i] == 0, "%s: counter %lld left at %u",
             shape.c_str(), static_cast<long long>(i), reinterpret_cast<const uint32_t*>(workspace.data())[i]);
    }
  }
};

template <class T>
struct Rows {
  static void run(int64_t b, int64_t rows, int64_t c) {
    for (const Start start : {Start::guard, Start::aligned}) {
      for (const bool tokens_norm : {false, true}) one(b, rows, c, start, tokens_norm);
    }
  }

  static void one(int64_t b, int64_t rows, int64_t c, Start start, bool tokens_norm) {
    Ctx ctx;
    const std::string shape = "rows B" + std::to_string(b) + " T" + std::to_string(rows) + " C" +
                              std::to_string(c) + (tokens_norm ? " tokens_norm" : "") +
                              (start == Start::aligned ? " aligned" : "");
    const size_t n = static_cast<size_t>(b * rows * c);
    Buffer<T> x(n, start), u(n, start), cls(static_cast<size_t>(b * c), start), g1(static_cast<size_t>(c), start),
        b1(static_cast<size_t>(c), start), gamma(static_cast<size_t>(c), start), g2(static_cast<size_t>(c), start),
        b2(static_cast<size_t>(c), start);
    x.fill_uniform(-3, 3);
    g1.fill_uniform(0.5f, 1.5f);
    b1.fill_uniform(-0.5f, 0.5f);
    gamma.fill_uniform(-1, 1);
    g2.fill_uniform(0.5f, 1.5f);
    b2.fill_uniform(-0.5f, 0.5f);
    const float eps = 1e-6f;
    const auto xf = f32(x), g1f = f32(g1), b1f = f32(b1), gf = f32(gamma), g2f = f32(g2), b2f = f32(b2);
    // The CPU ops the kernel replaces: LN1 on every row; then, per patch row, x + gamma1 *
    // u (u as stored in T, the sum rounded to T) and LN2 on that.
    std::vector<float> uref(n), xref = xf, clsref(static_cast<size_t>(b * c));
    EXPECT_OK(ctx, xcit_cpu_layernorm_f32(ctx, uref.data(), xf.data(), g1f.data(), b1f.data(), b * rows, c, eps));
    uref = round_to<T>(uref);
    for (int64_t img = 0; img < b; ++img) {
      for (int64_t i = 0; i < c; ++i) clsref[img * c + i] = xf[img * rows * c + i];
      for (int64_t t = 1; t < rows; ++t) {
        float* row = xref.data() + (img * rows + t) * c;
        for (int64_t i = 0; i < c; ++i) row[i] = row[i] + gf[i] * uref[(img * rows + t) * c + i];
        if (!tokens_norm) continue;
        std::vector<float> rounded = round_to<T>(std::vector<float>(row, row + c));
        EXPECT_OK(ctx, xcit_cpu_layernorm_f32(ctx, row, rounded.data(), g2f.data(), b2f.data(), 1, c, eps));
      }
    }
    const T* none = nullptr;
    EXPECT_OK(ctx, op::class_attention_rows<T>(ctx.ctx, x.data(), u.data(), cls.data(), g1.data(), b1.data(),
                                               gamma.data(), tokens_norm ? g2.data() : none,
                                               tokens_norm ? b2.data() : none, b, rows, c, eps));
    expect_close(shape + " u", u, widen(uref), 1.0);
    expect_close(shape + " cls", cls, widen(clsref), 3.0);
    expect_close(shape + " x", x, widen(xref), tokens_norm ? 1.0 : 5.0);
  }
};

void check_errors() {
  Ctx ctx;
  float buf[64] = {};
  EXPECT(xcit_cuda_class_attention_f32(ctx, buf, nullptr, buf, buf, 1, 0, 8, 1) ==
             XCIT_ERR_INVALID_ARGUMENT,
         "no rows");
  EXPECT(xcit_cuda_class_attention_f32(ctx, buf, nullptr, buf, buf, 1, 3, 8, 3) ==
             XCIT_ERR_INVALID_ARGUMENT,
         "8 %% 3");
  int64_t bytes = 0;
  EXPECT(xcit_cuda_class_attention_folded_workspace_size(ctx, &bytes, 1, 3, 2048, 32) == XCIT_ERR_UNSUPPORTED,
         "C = 2048 > 1024");
  EXPECT(xcit_cuda_class_attention_folded_f32(ctx, buf, nullptr, buf, buf, buf, buf, nullptr, buf, nullptr, 1, 3,
                                              4, 1) == XCIT_ERR_INVALID_ARGUMENT,
         "both q and q_weight");
  EXPECT(std::strstr(ctx.error(), "exactly one") != nullptr, "text: %s", ctx.error());
  EXPECT(xcit_cuda_class_attention_rows_f32(ctx, buf, buf, buf + 8, buf, buf, buf, nullptr, nullptr, 1, 2, 4,
                                            1e-6f) == XCIT_ERR_INVALID_ARGUMENT,
         "u aliasing x");
}

}  // namespace

int main() {
  require_device("test_class_attention");
  const int64_t shapes[][4] = {{1, 1, 32, 1}, {2, 8, 96, 2}, {1, 197, 128, 2}, {3, 600, 64, 1}};
  // Folded: (B, T, C, heads); splits = min(ceil(256 / (B heads)), ceil(T / 64)).
  const int64_t folded[][4] = {{1, 1, 32, 1},   {2, 8, 96, 2},    {1, 197, 128, 2}, {3, 600, 64, 1},
                               {1, 70, 36, 3},  {2, 197, 384, 8}, {1, 20, 1024, 16}};
  // Rows: aligned C up to 1024 take a warp per row (1, 2, 4, 8 runs per lane), 5 x 36 in
  // 16-bit and 2048 a block per row.
  const int64_t rows[][3] = {{1, 1, 32}, {2, 5, 36}, {2, 9, 384}, {1, 4, 1000}, {3, 7, 2048}, {2, 13, 128}};
  with_folded_grids([&] {
    for (const auto& s : shapes) for_each_type<Case>(s[0], s[1], s[2], s[3]);
    for (const auto& s : folded) for_each_type<Folded>(s[0], s[1], s[2], s[3]);
    for (const auto& s : rows) for_each_type<Rows>(s[0], s[1], s[2]);
  });
  check_errors();
  return summary("test_emu_class_attention");
}
