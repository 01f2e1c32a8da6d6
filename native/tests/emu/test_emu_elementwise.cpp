// The small ops under the emulator against double references, fp32/fp16/bf16:
// add_scaled, add_broadcast, bias_gelu, channel_affine, nchw_to_nhwc, gather/scatter/
// prepend_row, max_pool, and convert (plus the software fp16/bf16 conversions every
// emulated test depends on, checked exhaustively).
#include "emu_test.h"

using namespace emu_test;
XCIT_EMU_OP(add_scaled)
XCIT_EMU_OP(add_broadcast)
XCIT_EMU_OP(bias_gelu)
XCIT_EMU_OP(channel_affine)
XCIT_EMU_OP(nchw_to_nhwc)
XCIT_EMU_OP(gather_row)
XCIT_EMU_OP(scatter_row)
XCIT_EMU_OP(prepend_row)
XCIT_EMU_OP(max_pool)

namespace {

double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

template <class T>
struct Pointwise {
  static void run(int64_t rows, int64_t cols) {
    Ctx ctx;
    const std::string shape = std::to_string(rows) + "x" + std::to_string(cols);
    const size_t n = static_cast<size_t>(rows * cols);
    Buffer<T> x(n), y(n), scale(cols), shift(cols);
    x.fill_uniform(-3, 3);
    y.fill_uniform(-3, 3);
    scale.fill_uniform(-2, 2);
    shift.fill_uniform(-1, 1);
    const auto xv = x.values(), yv = y.values(), sv = scale.values(), hv = shift.values();

    for (const bool with_scale : {true, false}) {
      Buffer<T> out = x;
      std::vector<double> want(n);
      for (size_t i = 0; i < n; ++i) want[i] = xv[i] + (with_scale ? sv[i % cols] : 1.0) * yv[i];
      EXPECT_OK(ctx, op::add_scaled<T>(ctx.ctx, out.data(), y.data(),
                                       with_scale ? scale.data() : static_cast<const T*>(nullptr),
                                       rows, cols));
      expect_close("add_scaled " + shape, out, want, 3.0);  // |terms| <= 3 and 6
    }
    {
      Buffer<T> out = x;
      std::vector<double> want(n);
      for (size_t i = 0; i < n; ++i) want[i] = xv[i] + hv[i % cols];
      EXPECT_OK(ctx, op::add_broadcast<T>(ctx.ctx, out.data(), shift.data(), rows, cols));
      expect_close("add_broadcast " + shape, out, want, 3.0);
    }
    for (const bool with_bias : {true, false}) {
      Buffer<T> out = x;
      std::vector<double> want(n);
      for (size_t i = 0; i < n; ++i) want[i] = gelu(xv[i] + (with_bias ? hv[i % cols] : 0.0));
      EXPECT_OK(ctx, op::bias_gelu<T>(ctx.ctx, out.data(),
                                      with_bias ? shift.data() : static_cast<const T*>(nullptr),
                                      rows, cols));
      expect_close("bias_gelu " + shape, out, want, 1.0);
    }
    {
      Buffer<T> out = x;
      std::vector<double> want(n);
      for (size_t i = 0; i < n; ++i) want[i] = xv[i] * sv[i % cols] + hv[i % cols];
      EXPECT_OK(ctx, op::channel_affine<T>(ctx.ctx, out.data(), scale.data(), shift.data(), rows,
                                           cols));
      expect_close("channel_affine " + shape, out, want, 3.0);
    }
  }
};

template <class T>
struct Layout {
  static void run(int64_t b, int64_t r, int64_t c) {
    Ctx ctx;
    const std::string shape = std::to_string(b) + "x" + std::to_string(r) + "x" + std::to_string(c);
    // nchw_to_nhwc: (b, c, h=r, w=r+2) fp32 in, T out.
    const int64_t h = r, w = r + 2;
    Buffer<float> image(static_cast<size_t>(b * c * h * w));
    image.fill_uniform(-2, 2);
    Buffer<T> nhwc(image.n);
    std::vector<double> want(image.n);
    for (int64_t n = 0; n < b; ++n)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t yy = 0; yy < h; ++yy)
          for (int64_t xx = 0; xx < w; ++xx)
            want[((n * h + yy) * w + xx) * c + ch] = image.get(((n * c + ch) * h + yy) * w + xx);
    EXPECT_OK(ctx, op::nchw_to_nhwc<T>(ctx.ctx, nhwc.data(), image.data(), b, c, h, w));
    expect_close("nchw_to_nhwc " + shape, nhwc, want, 2.0);

    // gather / scatter / prepend are copies: exact.
    Buffer<T> rows(static_cast<size_t>(b * r * c)), first(static_cast<size_t>(c));
    rows.fill_uniform(-1, 1);
    first.fill_uniform(-1, 1);
    const int64_t row = r / 2;
    Buffer<T> gathered(static_cast<size_t>(b * c));
    std::vector<double> g(gathered.n);
    for (int64_t n = 0; n < b; ++n)
      for (int64_t ch = 0; ch < c; ++ch) g[n * c + ch] = rows.get((n * r + row) * c + ch);
    EXPECT_OK(ctx, op::gather_row<T>(ctx.ctx, gathered.data(), rows.data(), b, r, c, row));
    expect_close("gather_row " + shape, gathered, g, 1.0);

    Buffer<T> scattered = rows;
    std::vector<double> s = rows.values();
    for (int64_t n = 0; n < b; ++n)
      for (int64_t ch = 0; ch < c; ++ch) s[(n * r + 0) * c + ch] = first.get(ch);
    Buffer<T> src(static_cast<size_t>(b * c));
    for (int64_t n = 0; n < b; ++n)
      for (int64_t ch = 0; ch < c; ++ch) src[n * c + ch] = first[ch];
    EXPECT_OK(ctx, op::scatter_row<T>(ctx.ctx, scattered.data(), src.data(), b, r, c, int64_t{0}));
    expect_close("scatter_row " + shape, scattered, s, 1.0);

    Buffer<T> prepended(static_cast<size_t>(b * (r + 1) * c));
    std::vector<double> p(prepended.n);
    for (int64_t n = 0; n < b; ++n) {
      for (int64_t ch = 0; ch < c; ++ch) p[n * (r + 1) * c + ch] = first.get(ch);
      for (int64_t t = 0; t < r * c; ++t) p[n * (r + 1) * c + c + t] = rows.get(n * r * c + t);
    }
    EXPECT_OK(ctx, op::prepend_row<T>(ctx.ctx, prepended.data(), first.data(), rows.data(), b, r, c));
    expect_close("prepend_row " + shape, prepended, p, 1.0);

    // max_pool for k = 1, 2, 4 on an odd grid (floor), with a NaN planted in one window.
    for (const int64_t k : {1, 2, 4}) {
      Buffer<T> in(static_cast<size_t>(b * h * w * c));
      in.fill_uniform(-5, 5);
      if (h >= k && w >= k) in.set(static_cast<size_t>(c + 1) % in.n, NAN);
      const int64_t oh = h / k, ow = w / k;
      Buffer<T> out(static_cast<size_t>(b * oh * ow * c));
      std::vector<double> m(out.n);
      for (int64_t n = 0; n < b; ++n)
        for (int64_t yy = 0; yy < oh; ++yy)
          for (int64_t xx = 0; xx < ow; ++xx)
            for (int64_t ch = 0; ch < c; ++ch) {
              double v = -INFINITY;
              for (int64_t i = 0; i < k; ++i)
                for (int64_t j = 0; j < k; ++j) {
                  const double e = in.get(((n * h + yy * k + i) * w + xx * k + j) * c + ch);
                  v = (std::isnan(e) || e > v) ? e : v;
                  if (std::isnan(v)) i = j = k;
                }
              m[((n * oh + yy) * ow + xx) * c + ch] = v;
            }
      EXPECT_OK(ctx, op::max_pool<T>(ctx.ctx, out.data(), in.data(), b, h, w, c, k));
      // NaN must come out where the reference has NaN (expect_close treats NaN as a
      // mismatch), so compare the NaN positions first and then the rest.
      for (size_t i = 0; i < m.size(); ++i) {
        if (std::isnan(m[i])) {
          EXPECT(std::isnan(out.get(i)), "max_pool k=%lld: NaN not propagated at %zu",
                 static_cast<long long>(k), i);
          m[i] = 0.0;
          out.set(i, 0.0f);
        }
      }
      expect_close("max_pool k=" + std::to_string(k) + " " + shape, out, m, 1.0);
    }
  }
};

// Every 16-bit pattern survives widening and narrowing (NaN stays NaN), and a few known
// roundings, so the software types agree with IEEE fp16 / bfloat16 as CUDA implements them.
void check_soft_types() {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const half h{static_cast<uint16_t>(bits)};
    const float f = to_f(h);
    const uint16_t back = xcit_emu::float_to_half(f).bits;
    EXPECT(std::isnan(f) ? std::isnan(to_f(half{back})) : back == bits, "fp16 0x%04x -> %g -> 0x%04x",
           bits, static_cast<double>(f), back);
    const bf16 b{static_cast<uint16_t>(bits)};
    const float g = to_f(b);
    const uint16_t bb = xcit_emu::float_to_bf16(g).bits;
    EXPECT(std::isnan(g) ? std::isnan(to_f(bf16{bb})) : bb == bits, "bf16 0x%04x -> 0x%04x", bits, bb);
  }
  const struct { float f; uint16_t h, b; } known[] = {
      {1.0f, 0x3c00, 0x3f80},       {-2.0f, 0xc000, 0xc000},    {65504.0f, 0x7bff, 0x4780},
      {65520.0f, 0x7c00, 0x4780},   {1.0f + 1.0f / 2048, 0x3c00, 0x3f80},  // tie -> even
      {5.9604645e-08f, 0x0001, 0x3380}, {2.9802322e-08f, 0x0000, 0x3300},  // tie -> even (0)
      {3.0f * 5.9604645e-08f / 2, 0x0002, 0x33c0},  // 1.5 units -> 2
  };
  for (const auto& k : known) {
    EXPECT(xcit_emu::float_to_half(k.f).bits == k.h, "fp16(%.9g) = 0x%04x, want 0x%04x",
           static_cast<double>(k.f), xcit_emu::float_to_half(k.f).bits, k.h);
    EXPECT(xcit_emu::float_to_bf16(k.f).bits == k.b, "bf16(%.9g) = 0x%04x, want 0x%04x",
           static_cast<double>(k.f), xcit_emu::float_to_bf16(k.f).bits, k.b);
  }
  ++g_cases;
}

void check_convert() {
  Ctx ctx;
  const size_t n = 1001;
  Buffer<float> src(n), back(n);
  src.fill_uniform(-70000.0f, 70000.0f);  // beyond fp16's range: must round to +-inf
  Buffer<half> h(n);
  Buffer<bf16> b(n);
  auto convert = [&](void* out, int32_t out_type, const void* in, int32_t in_type) {
    return mirrored([&] { return xcit_cuda_convert(ctx, dev(out), out_type, dev(in), in_type, n); });
  };
  EXPECT_OK(ctx, convert(h.data(), XCIT_CUDA_F16, src.data(), XCIT_CUDA_F32));
  EXPECT_OK(ctx, convert(b.data(), XCIT_CUDA_BF16, h.data(), XCIT_CUDA_F16));
  EXPECT_OK(ctx, convert(back.data(), XCIT_CUDA_F32, b.data(), XCIT_CUDA_BF16));
  for (size_t i = 0; i < n; ++i) {
    const half want_h = xcit_emu::float_to_half(src.get(i));
    EXPECT(h[i].bits == want_h.bits, "f32->f16 at %zu", i);
    EXPECT(back.get(i) == to_f(xcit_emu::float_to_bf16(to_f(want_h))) ||
               (std::isinf(back.get(i)) && std::isinf(to_f(want_h))),
           "f16->bf16->f32 at %zu", i);
  }
  EXPECT(h.intact() && b.intact() && back.intact(), "convert wrote outside its output");
  EXPECT(xcit_cuda_convert(ctx, h.data(), 7, src.data(), XCIT_CUDA_F32, 1) == XCIT_ERR_INVALID_ARGUMENT,
         "bad type code");
  ++g_cases;
}

void check_errors() {
  Ctx ctx;
  float buf[16] = {};
  EXPECT(xcit_cuda_gather_row_f32(ctx, buf, buf, 2, 3, 2, 3) == XCIT_ERR_INVALID_ARGUMENT, "row 3 of 3");
  EXPECT(std::strstr(ctx.error(), "row = 3") != nullptr, "text: %s", ctx.error());
  EXPECT(xcit_cuda_max_pool_f32(ctx, buf, buf, 1, 2, 2, 1, 0) == XCIT_ERR_INVALID_ARGUMENT, "k = 0");
  EXPECT(xcit_cuda_prepend_row_f32(ctx, buf, buf, buf, 1, -1, 4) == XCIT_ERR_INVALID_ARGUMENT,
         "tokens = -1");
  EXPECT(xcit_cuda_add_scaled_f32(ctx, buf, buf, nullptr, 0, 0) == XCIT_OK, "empty is a no-op");
}

}  // namespace

int main() {
  require_device("test_elementwise");
  check_soft_types();
  check_convert();
  const int64_t pointwise[][2] = {{1, 1}, {7, 33}, {197, 100}, {3, 384}};
  for (const auto& s : pointwise) for_each_type<Pointwise>(s[0], s[1]);
  Pointwise<float>::run(1100, 1000);  // > 4096 blocks x 256 threads: the grid-stride loop
  const int64_t layouts[][3] = {{1, 1, 1}, {2, 7, 3}, {3, 9, 33}, {1, 14, 64}};
  for (const auto& s : layouts) for_each_type<Layout>(s[0], s[1], s[2]);
  check_errors();
  return summary("test_emu_elementwise");
}
