// The small ops under the emulator, fp32/fp16/bf16, against the CPU backend's ops:
// add_scaled, add_broadcast, channel_affine, nchw_to_nhwc, gather/scatter/prepend_row
// and max_pool against their xcit_cpu_*_f32 namesakes; bias_gelu against
// xcit_cpu_add_broadcast_f32 then xcit_cpu_gelu_f32 (the CPU backend adds the bias in
// its GEMM's epilogue, then runs that GELU); convert's f32 -> bf16 against
// xcit_cpu_to_bf16, bit for bit, and convert_many (a session's outputs in one launch)
// against the same rounding per element, each pair in its own guarded buffer. The software fp16/bf16
// conversions every emulated test depends on have no CPU op: they are checked
// exhaustively against IEEE / CUDA rounding (every bit pattern, known ties).
#include "emu_test.h"

using namespace emu_test;
XCIT_EMU_OP(add_scaled)
XCIT_EMU_OP(add_broadcast)
XCIT_EMU_OP(bias_gelu)
XCIT_EMU_OP(channel_affine)
XCIT_EMU_OP(nchw_to_nhwc)
XCIT_EMU_OP(transpose)
XCIT_EMU_OP(gather_row)
XCIT_EMU_OP(scatter_row)
XCIT_EMU_OP(prepend_row)
XCIT_EMU_OP(max_pool)

namespace {

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
    const auto xf = f32(x), yf = f32(y), sf = f32(scale), hf = f32(shift);

    for (const bool with_scale : {true, false}) {
      Buffer<T> out = x;
      std::vector<float> want = xf;
      EXPECT_OK(ctx, xcit_cpu_add_scaled_f32(ctx, want.data(), yf.data(), with_scale ? sf.data() : nullptr,
                                             rows, cols));
      EXPECT_OK(ctx, op::add_scaled<T>(ctx.ctx, out.data(), y.data(),
                                       with_scale ? scale.data() : static_cast<const T*>(nullptr),
                                       rows, cols));
      expect_close("add_scaled " + shape, out, widen(want), 3.0);  // |terms| <= 3 and 6
    }
    {
      Buffer<T> out = x;
      std::vector<float> want = xf;
      EXPECT_OK(ctx, xcit_cpu_add_broadcast_f32(ctx, want.data(), hf.data(), rows * cols, cols));
      EXPECT_OK(ctx, op::add_broadcast<T>(ctx.ctx, out.data(), shift.data(), rows, cols));
      expect_close("add_broadcast " + shape, out, widen(want), 3.0);
    }
    for (const bool with_bias : {true, false}) {
      Buffer<T> out = x;
      std::vector<float> want = xf;
      if (with_bias) EXPECT_OK(ctx, xcit_cpu_add_broadcast_f32(ctx, want.data(), hf.data(), rows * cols, cols));
      EXPECT_OK(ctx, xcit_cpu_gelu_f32(ctx, want.data(), rows * cols));
      EXPECT_OK(ctx, op::bias_gelu<T>(ctx.ctx, out.data(),
                                      with_bias ? shift.data() : static_cast<const T*>(nullptr),
                                      rows, cols));
      expect_close("bias_gelu " + shape, out, widen(want), 1.0);
    }
    {
      Buffer<T> out = x;
      std::vector<float> want = xf;
      EXPECT_OK(ctx, xcit_cpu_channel_affine_f32(ctx, want.data(), sf.data(), hf.data(), rows, cols));
      EXPECT_OK(ctx, op::channel_affine<T>(ctx.ctx, out.data(), scale.data(), shift.data(), rows,
                                           cols));
      expect_close("channel_affine " + shape, out, widen(want), 3.0);
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
    std::vector<float> want(image.n);
    EXPECT_OK(ctx, xcit_cpu_nchw_to_nhwc_f32(ctx, want.data(), image.data(), b, c, h, w));
    EXPECT_OK(ctx, op::nchw_to_nhwc<T>(ctx.ctx, nhwc.data(), image.data(), b, c, h, w));
    // The CPU op keeps fp32; the kernel rounds to T once.
    expect_close("nchw_to_nhwc " + shape, nhwc, widen(want), 2.0);

    // transpose: T in, T out, (b, c, h*w) -> (b, h*w, c) = nchw_to_nhwc's layout change on
    // values already in T, so the expected values are exact.
    Buffer<T> planes(image.n), moved(image.n);
    for (size_t i = 0; i < image.n; ++i) planes[i] = nhwc[i];
    std::vector<float> planes_f = f32(planes), moved_want(image.n);
    EXPECT_OK(ctx, xcit_cpu_nchw_to_nhwc_f32(ctx, moved_want.data(), planes_f.data(), b, c, h, w));
    EXPECT_OK(ctx, op::transpose<T>(ctx.ctx, moved.data(), planes.data(), b, c, h * w));
    expect_close("transpose " + shape, moved, widen(moved_want), 0.0);

    // gather / scatter / prepend are copies: the CPU ops on the widened values give T's
    // values exactly, so any mismatch is a wrong element.
    Buffer<T> rows(static_cast<size_t>(b * r * c)), first(static_cast<size_t>(c));
    rows.fill_uniform(-1, 1);
    first.fill_uniform(-1, 1);
    const auto rf = f32(rows), ff = f32(first);
    const int64_t row = r / 2;
    Buffer<T> gathered(static_cast<size_t>(b * c));
    std::vector<float> g(gathered.n);
    EXPECT_OK(ctx, xcit_cpu_gather_row_f32(ctx, g.data(), rf.data(), b, r, c, row));
    EXPECT_OK(ctx, op::gather_row<T>(ctx.ctx, gathered.data(), rows.data(), b, r, c, row));
    expect_close("gather_row " + shape, gathered, widen(g), 1.0);

    Buffer<T> scattered = rows;
    Buffer<T> src(static_cast<size_t>(b * c));
    for (int64_t n = 0; n < b; ++n)
      for (int64_t ch = 0; ch < c; ++ch) src[n * c + ch] = first[ch];
    std::vector<float> sc = rf;
    const auto srcf = f32(src);
    EXPECT_OK(ctx, xcit_cpu_scatter_row_f32(ctx, sc.data(), srcf.data(), b, r, c, int64_t{0}));
    EXPECT_OK(ctx, op::scatter_row<T>(ctx.ctx, scattered.data(), src.data(), b, r, c, int64_t{0}));
    expect_close("scatter_row " + shape, scattered, widen(sc), 1.0);

    Buffer<T> prepended(static_cast<size_t>(b * (r + 1) * c));
    std::vector<float> p(prepended.n);
    EXPECT_OK(ctx, xcit_cpu_prepend_row_f32(ctx, p.data(), ff.data(), rf.data(), b, r, c));
    EXPECT_OK(ctx, op::prepend_row<T>(ctx.ctx, prepended.data(), first.data(), rows.data(), b, r, c));
    expect_close("prepend_row " + shape, prepended, widen(p), 1.0);

    // max_pool for k = 1, 2, 4 on an odd grid (floor), with a NaN planted in one window:
    // the CPU op must propagate it (checked) and the kernel must put NaN where it does.
    for (const int64_t k : {1, 2, 4}) {
      Buffer<T> in(static_cast<size_t>(b * h * w * c));
      in.fill_uniform(-5, 5);
      const bool planted = h >= k && w >= k;
      if (planted) in.set(static_cast<size_t>(c + 1) % in.n, NAN);
      const int64_t oh = h / k, ow = w / k;
      Buffer<T> out(static_cast<size_t>(b * oh * ow * c));
      std::vector<float> mf(out.n + 1);  // + 1: non-NULL even when the output is empty
      const auto inf = f32(in);
      EXPECT_OK(ctx, xcit_cpu_max_pool_f32(ctx, mf.data(), inf.data(), b, h, w, c, k));
      mf.pop_back();
      std::vector<double> m = widen(mf);
      EXPECT(!planted || std::any_of(mf.begin(), mf.end(), [](float v) { return std::isnan(v); }),
             "max_pool k=%lld: the CPU op dropped the planted NaN", static_cast<long long>(k));
      EXPECT_OK(ctx, op::max_pool<T>(ctx.ctx, out.data(), in.data(), b, h, w, c, k));
      // NaN must come out where the CPU op puts NaN (expect_close treats NaN as a
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
  // f32 -> bf16 against the CPU backend's conversion (its bf16 GEMM inputs), bit for bit.
  Buffer<bf16> direct(n);
  std::vector<uint16_t> cpu_bf16(n);
  const auto srcf = f32(src);
  EXPECT_OK(ctx, xcit_cpu_to_bf16(ctx, cpu_bf16.data(), srcf.data(), static_cast<int64_t>(n)));
  EXPECT_OK(ctx, convert(direct.data(), XCIT_CUDA_BF16, src.data(), XCIT_CUDA_F32));
  for (size_t i = 0; i < n; ++i) {
    EXPECT(direct[i].bits == cpu_bf16[i], "f32->bf16 at %zu: 0x%04x, CPU 0x%04x", i, direct[i].bits,
           cpu_bf16[i]);
  }
  EXPECT(h.intact() && b.intact() && back.intact() && direct.intact(), "convert wrote outside its output");
  EXPECT(xcit_cuda_convert(ctx, h.data(), 7, src.data(), XCIT_CUDA_F32, 1) == XCIT_ERR_INVALID_ARGUMENT,
         "bad type code");
  ++g_cases;
}

// Outputs of a bf16 session to fp32 in one launch: pairs of 1, 0 (skipped), 4099 and 197
// elements, each out guarded, counts not multiples of the block, the pair boundaries
// falling inside a block and inside a thread's grid-stride walk.
void check_convert_many() {
  Ctx ctx;
  const int64_t counts[] = {1, 0, 4099, 197};
  std::vector<Buffer<bf16>> in;
  std::vector<Buffer<float>> out;
  for (const int64_t c : counts) {
    in.emplace_back(static_cast<size_t>(c));
    in.back().fill_uniform(-3, 3);
    out.emplace_back(static_cast<size_t>(c));
  }
  EXPECT_OK(ctx, mirrored([&] {
    void* o[4];
    const void* i[4];
    for (int k = 0; k < 4; ++k) {
      o[k] = dev(out[k].data());
      i[k] = dev(in[k].data());
    }
    return xcit_cuda_convert_many(ctx, 4, o, XCIT_CUDA_F32, i, XCIT_CUDA_BF16, counts);
  }));
  for (int k = 0; k < 4; ++k) {
    for (size_t e = 0; e < out[k].n; ++e) {
      EXPECT(out[k].get(e) == in[k].get(e), "pair %d element %zu: %g, want %g", k, e, out[k].get(e), in[k].get(e));
    }
    EXPECT(out[k].intact(), "convert_many wrote outside pair %d", k);
  }
  void* none[1] = {nullptr};
  const void* src[1] = {nullptr};
  EXPECT(xcit_cuda_convert_many(ctx, XCIT_CUDA_CONVERT_MAX + 1, none, XCIT_CUDA_F32, src, XCIT_CUDA_F32, counts) ==
             XCIT_ERR_INVALID_ARGUMENT,
         "more than XCIT_CUDA_CONVERT_MAX pairs");
  EXPECT(xcit_cuda_convert_many(ctx, 0, nullptr, XCIT_CUDA_F32, nullptr, XCIT_CUDA_F32, nullptr) == XCIT_OK,
         "no pairs is a no-op");
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
  const int64_t pointwise[][2] = {{1, 1}, {7, 33}, {197, 100}, {3, 384}};
  const int64_t layouts[][3] = {{1, 1, 1}, {2, 7, 3}, {3, 9, 33}, {1, 14, 64}};
  with_folded_grids([&] {
    check_convert();
    check_convert_many();
    for (const auto& s : pointwise) for_each_type<Pointwise>(s[0], s[1]);
    for (const auto& s : layouts) for_each_type<Layout>(s[0], s[1], s[2]);
  });
  Pointwise<float>::run(1100, 1000);  // > 4096 blocks x 256 threads: the grid-stride loop
  check_errors();
  return summary("test_emu_elementwise");
}
