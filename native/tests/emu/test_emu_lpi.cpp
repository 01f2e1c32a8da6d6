// Fused LPI under the emulator, fp32/fp16/bf16, against a double reference of
// Backend.lpi: grids smaller than, equal to and straddling the 8 x 8 tile (1x1, 7x9,
// 8x8, 14x14, 13x5), C not a multiple of the 32-channel chunk, batches of 1-2. The
// borders are where a BatchNorm folded into conv2 would be wrong by O(1), so the
// reference applies zero padding to the affine's output exactly as the spec says.
#include "emu_test.h"

using namespace emu_test;
XCIT_EMU_OP(lpi)

namespace {

double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

double conv3x3(const std::vector<double>& grid, int64_t img, int64_t y, int64_t x, int64_t ch,
               int64_t h, int64_t w, int64_t c, const std::vector<double>& weight, double bias) {
  double acc = bias;
  for (int64_t ky = 0; ky < 3; ++ky)
    for (int64_t kx = 0; kx < 3; ++kx) {
      const int64_t iy = y - 1 + ky, ix = x - 1 + kx;
      if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
      acc += grid[((img * h + iy) * w + ix) * c + ch] * weight[ch * 9 + ky * 3 + kx];
    }
  return acc;
}

template <class T>
struct Case {
  static void run(int64_t b, int64_t h, int64_t w, int64_t c) {
    Ctx ctx;
    const std::string shape = "lpi " + std::to_string(b) + "x" + std::to_string(h) + "x" +
                              std::to_string(w) + "x" + std::to_string(c);
    const size_t n = static_cast<size_t>(b * h * w * c);
    Buffer<T> in(n), w1(static_cast<size_t>(9 * c)), b1(static_cast<size_t>(c)), scale(static_cast<size_t>(c)),
        shift(static_cast<size_t>(c)), w2(static_cast<size_t>(9 * c)), b2(static_cast<size_t>(c)), out(n);
    in.fill_uniform(-2, 2);
    w1.fill_uniform(-0.5f, 0.5f);
    b1.fill_uniform(-0.5f, 0.5f);
    scale.fill_uniform(0.5f, 1.5f);
    shift.fill_uniform(-1.0f, 1.0f);  // non-zero: makes a wrong border padding visible
    w2.fill_uniform(-0.5f, 0.5f);
    b2.fill_uniform(-0.5f, 0.5f);
    const auto x = in.values(), k1 = w1.values(), k2 = w2.values();
    std::vector<double> mid(n), want(n);
    for (int64_t img = 0; img < b; ++img)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx)
          for (int64_t ch = 0; ch < c; ++ch) {
            const double v = conv3x3(x, img, y, xx, ch, h, w, c, k1, b1.get(ch));
            mid[((img * h + y) * w + xx) * c + ch] = gelu(v) * scale.get(ch) + shift.get(ch);
          }
    for (int64_t img = 0; img < b; ++img)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx)
          for (int64_t ch = 0; ch < c; ++ch) {
            want[((img * h + y) * w + xx) * c + ch] = conv3x3(mid, img, y, xx, ch, h, w, c, k2, b2.get(ch));
          }
    EXPECT_OK(ctx, op::lpi<T>(ctx.ctx, out.data(), in.data(), w1.data(), b1.data(), scale.data(),
                              shift.data(), w2.data(), b2.data(), b, h, w, c));
    // Nine terms of size <= ~1.5 each side: outputs O(2).
    expect_close(shape, out, want, 2.0);
  }
};

void check_errors() {
  Ctx ctx;
  float buf[64] = {};
  EXPECT(xcit_cuda_lpi_f32(ctx, buf, buf, buf, buf, buf, buf, buf, buf, 1, 2, 2, 4) ==
             XCIT_ERR_INVALID_ARGUMENT,
         "out == in");
  EXPECT(std::strstr(ctx.error(), "aliases") != nullptr, "text: %s", ctx.error());
  EXPECT(xcit_cuda_lpi_f32(ctx, buf, buf + 16, nullptr, buf, buf, buf, buf, buf, 1, 2, 2, 4) ==
             XCIT_ERR_INVALID_ARGUMENT,
         "NULL weight1");
}

}  // namespace

int main() {
  require_device("test_lpi");
  const int64_t shapes[][4] = {{1, 1, 1, 1}, {1, 7, 9, 5}, {2, 8, 8, 32}, {1, 14, 14, 48},
                               {2, 13, 5, 70}};
  for (const auto& s : shapes) for_each_type<Case>(s[0], s[1], s[2], s[3]);
  check_errors();
  return summary("test_emu_lpi");
}
