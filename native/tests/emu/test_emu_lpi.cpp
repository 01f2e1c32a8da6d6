// Fused LPI under the emulator, fp32/fp16/bf16, against the CPU backend's fused
// xcit_cpu_lpi_f32, as a plain op (gamma NULL: out = LPI(in)) and as the residual update
// (out += gamma * LPI(in), gamma a layer scale of mixed sign): grids smaller than, equal
// to and straddling the 8 x 8 tile (1x1, 7x9, 8x8, 14x14, 13x5), C a multiple of the
// 32-channel chunk or not, batches of 1-2, with tensors 32-byte aligned (the 16-byte
// vector path where C % 32 == 0) and not (the scalar path). The borders are where a
// BatchNorm folded into conv2 would be wrong by O(1); the shift is non-zero so that shows,
// and both ops apply zero padding to the affine's output as the spec says.
#include "emu_test.h"

using namespace emu_test;
XCIT_EMU_OP(lpi)

namespace {

template <class T>
struct Case {
  static void run(int64_t b, int64_t h, int64_t w, int64_t c) {
    for (const Start start : {Start::guard, Start::aligned}) {
      for (const bool residual : {false, true}) one(b, h, w, c, start, residual);
    }
  }

  static void one(int64_t b, int64_t h, int64_t w, int64_t c, Start start, bool residual) {
    Ctx ctx;
    const std::string shape = std::string(residual ? "lpi += " : "lpi ") + std::to_string(b) + "x" +
                              std::to_string(h) + "x" + std::to_string(w) + "x" + std::to_string(c) +
                              (start == Start::aligned ? " aligned" : "");
    const size_t n = static_cast<size_t>(b * h * w * c);
    Buffer<T> in(n, start), w1(static_cast<size_t>(9 * c)), b1(static_cast<size_t>(c)), scale(static_cast<size_t>(c)),
        shift(static_cast<size_t>(c)), w2(static_cast<size_t>(9 * c)), b2(static_cast<size_t>(c)),
        gamma(static_cast<size_t>(c)), out(n, start);
    in.fill_uniform(-2, 2);
    w1.fill_uniform(-0.5f, 0.5f);
    b1.fill_uniform(-0.5f, 0.5f);
    scale.fill_uniform(0.5f, 1.5f);
    shift.fill_uniform(-1.0f, 1.0f);  // non-zero: makes a wrong border padding visible
    w2.fill_uniform(-0.5f, 0.5f);
    b2.fill_uniform(-0.5f, 0.5f);
    gamma.fill_uniform(-1.0f, 1.0f);
    out.fill_uniform(-2, 2);  // the residual stream the update adds to
    const auto x = f32(in), k1 = f32(w1), c1 = f32(b1), s = f32(scale), t = f32(shift),
               k2 = f32(w2), c2 = f32(b2), g = f32(gamma);
    std::vector<float> ref = f32(out);
    const float* gp = residual ? g.data() : nullptr;
    EXPECT_OK(ctx, xcit_cpu_lpi_f32(ctx, ref.data(), x.data(), k1.data(), c1.data(), s.data(),
                                    t.data(), k2.data(), c2.data(), gp, b, h, w, c));
    EXPECT_OK(ctx, op::lpi<T>(ctx.ctx, out.data(), in.data(), w1.data(), b1.data(), scale.data(),
                              shift.data(), w2.data(), b2.data(),
                              residual ? gamma.data() : static_cast<const T*>(nullptr), b, h, w, c));
    // Nine terms of size <= ~1.5 each side: outputs O(2), plus the stream's O(2).
    expect_close(shape, out, widen(ref), residual ? 4.0 : 2.0);
  }
};

void check_errors() {
  Ctx ctx;
  float buf[64] = {};
  EXPECT(xcit_cuda_lpi_f32(ctx, buf, buf, buf, buf, buf, buf, buf, buf, nullptr, 1, 2, 2, 4) ==
             XCIT_ERR_INVALID_ARGUMENT,
         "out == in");
  EXPECT(std::strstr(ctx.error(), "aliases") != nullptr, "text: %s", ctx.error());
  EXPECT(xcit_cuda_lpi_f32(ctx, buf, buf + 16, nullptr, buf, buf, buf, buf, buf, nullptr, 1, 2, 2, 4) ==
             XCIT_ERR_INVALID_ARGUMENT,
         "NULL weight1");
}

}  // namespace

int main() {
  require_device("test_lpi");
  const int64_t shapes[][4] = {{1, 1, 1, 1},    {1, 7, 9, 5},     {2, 8, 8, 32},
                               {1, 14, 14, 48}, {2, 13, 5, 70},   {1, 14, 14, 64},
                               {2, 9, 7, 96}};
  with_folded_grids([&] {
    for (const auto& s : shapes) for_each_type<Case>(s[0], s[1], s[2], s[3]);
  });
  check_errors();
  return summary("test_emu_lpi");
}
