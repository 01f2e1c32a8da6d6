// layernorm.cu under the emulator: plain LayerNorm (also in place) and the fused
// residual + layer-scale + LayerNorm, fp32/fp16/bf16, against the CPU backend's
// xcit_cpu_layernorm_f32 and xcit_cpu_add_layernorm_f32 (double statistics), with every
// tensor 32-byte aligned (16-byte vector accesses where the width allows: multiples of 8
// for fp16/bf16, of 4 for fp32) and not (element by element).
#include "emu_test.h"

using namespace emu_test;
XCIT_EMU_OP(layernorm)
XCIT_EMU_OP(residual_layernorm)

namespace {

template <class T>
struct Case {
  static void run(size_t rows, size_t cols, float offset) {
    for (const Start start : {Start::guard, Start::aligned}) one(rows, cols, offset, start);
  }

  static void one(size_t rows, size_t cols, float offset, Start start) {
    Ctx ctx;
    const std::string name = "layernorm " + std::to_string(rows) + "x" + std::to_string(cols) +
                             (start == Start::aligned ? " aligned" : "");
    Buffer<T> x(rows * cols, start), out(rows * cols, start), y(rows * cols, start), scale(cols, start),
        g(cols, start), b(cols, start);
    // The offset makes the mean large against the spread (one-pass variance fails).
    for (size_t i = 0; i < x.n; ++i) x.set(i, offset + uniform(-2, 2));
    y.fill_uniform(-1, 1);
    scale.fill_uniform(0.1f, 1.0f);
    g.fill_uniform(0.5f, 1.5f);
    b.fill_uniform(-0.5f, 0.5f);
    const float eps = 1e-6f;

    // Output is O(1) (normalised, gamma ~ 1, beta ~ 0.5): scale 1.
    const std::vector<float> xf = f32(x), yf = f32(y), sf = f32(scale), gf = f32(g), bf = f32(b);
    const auto r = static_cast<int64_t>(rows), c = static_cast<int64_t>(cols);
    std::vector<float> ln(rows * cols);
    EXPECT_OK(ctx, xcit_cpu_layernorm_f32(ctx, ln.data(), xf.data(), gf.data(), bf.data(), r, c, eps));
    const std::vector<double> want = widen(ln);
    EXPECT_OK(ctx, op::layernorm<T>(ctx.ctx, out.data(), x.data(), g.data(), b.data(), r, c, eps));
    expect_close(name, out, want, 1.0);

    Buffer<T> inplace = x;
    EXPECT_OK(ctx, op::layernorm<T>(ctx.ctx, inplace.data(), inplace.data(), g.data(), b.data(),
                                    r, c, eps));
    expect_close(name + " in place", inplace, want, 1.0);

    // Residual: the CPU's fused op in fp32; for fp16/bf16 the kernel rounds x + scale*y
    // to T before normalising (the contract), so the reference normalises the rounded x.
    for (const bool with_scale : {true, false}) {
      Buffer<T> xr = x, o2(rows * cols, start);
      std::vector<float> xs = xf, ls(rows * cols);
      EXPECT_OK(ctx, xcit_cpu_add_layernorm_f32(ctx, xs.data(), ls.data(), yf.data(),
                                                with_scale ? sf.data() : nullptr, gf.data(),
                                                bf.data(), r, c, eps));
      if constexpr (!std::is_same_v<T, float>) {
        xs = round_to<T>(xs);
        EXPECT_OK(ctx, xcit_cpu_layernorm_f32(ctx, ls.data(), xs.data(), gf.data(), bf.data(), r, c, eps));
      }
      EXPECT_OK(ctx, op::residual_layernorm<T>(
                         ctx.ctx, xr.data(), o2.data(), y.data(),
                         with_scale ? scale.data() : static_cast<const T*>(nullptr), g.data(),
                         b.data(), r, c, eps));
      const std::string rn = name + (with_scale ? " residual" : " residual, no scale");
      // The kernel adds in fp32 and rounds once, like the reference: x must match to 1 ulp
      // of T at the residual's magnitude (|offset| + 3).
      expect_close(rn + " (x)", xr, widen(xs), std::fabs(offset) + 3.0);
      expect_close(rn, o2, widen(ls), 1.0);
    }
  }
};

void check_errors() {
  Ctx ctx;
  float buf[8] = {};
  EXPECT(xcit_cuda_residual_layernorm_f32(ctx, buf, buf, buf, nullptr, buf, buf, 1, 8, 1e-6f) ==
             XCIT_ERR_INVALID_ARGUMENT,
         "out aliasing x must be refused");
  EXPECT(std::strstr(ctx.error(), "aliases") != nullptr, "text: %s", ctx.error());
  EXPECT(xcit_cuda_layernorm_f16(ctx, nullptr, nullptr, nullptr, nullptr, 1, 8, 1e-6f) ==
             XCIT_ERR_INVALID_ARGUMENT,
         "NULL out");
  EXPECT(std::strstr(ctx.error(), "xcit_cuda_layernorm_f16: out is NULL") != nullptr, "text: %s",
         ctx.error());
}

}  // namespace

int main() {
  require_device("test_layernorm");
  // Single column (variance 0), odd widths, XCiT's 128/192/384/768, a width above the
  // block (1000 > 256 threads) and one below a warp. Aligned rows of multiples of 8 up to
  // 1024 take the warp kernel (layernorm.cu) with 1, 2, 4 and (fp32) 8 runs per lane, rows
  // not filling a block of 4 warps (5, 9) and several blocks (33 x 384); 2048 and the odd
  // widths the block kernel.
  const size_t shapes[][2] = {{1, 1}, {3, 7}, {5, 33}, {2, 128}, {4, 192}, {7, 384}, {2, 768},
                              {3, 1000}, {33, 384}, {5, 1024}, {9, 2048}};
  with_folded_grids([&] {
    for (const auto& s : shapes) for_each_type<Case>(s[0], s[1], 0.0f);
    for_each_type<Case>(size_t{6}, size_t{97}, 40.0f);
  });
  check_errors();
  return summary("test_emu_layernorm");
}
