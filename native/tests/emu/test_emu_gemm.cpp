// The ops on the tiled GEMM core (gemm_tile.h) under the emulator, fp32/fp16/bf16 (fp32 on
// the CUDA-core kernel, fp16/bf16 on the tensor-core one: wmma under the emulator's
// permuted fragment layout, so a kernel that assumed a layout fails here):
// - conv3x3s2 (odd sizes: the padding and the ceil) and conv_transpose2x2 against the
//   CPU backend's xcit_cpu_conv3x3s2_f32 / xcit_cpu_conv_transpose2x2_f32; the small
//   outputs here split K (gemm_launch_split_k) over a NaN-filled workspace, up to 8 slices
//   (192 -> 384 channels), the large ones do not (workspace_sizes);
// - im2col3x3s2 (the conv's other route: im2col + GEMM) bit for bit against its definition,
//   in 16-byte units (aligned buffers, Cin * sizeof(T) a multiple of 16) and in elements
//   (the guard-offset buffers), in two pixel ranges (first_pixel); then its rows times the
//   weight relaid out to (Cout, 3, 3, Cin) through linear against the CPU conv;
// - linear (bias, no bias, GELU, per-batch weights) against a double reference written
//   here: libxcit has no C GEMM (the CPU backend's GEMMs are oneDNN matmuls called
//   from Java, checked against JavaBackend by CpuBackendOpsTest), so there is no CPU op
//   to call.
// Sizes straddle the 64 x 64 block tile, the 16 x 16 wmma tiles and the k-steps (16 on CUDA
// cores, 32 on tensor cores) on purpose (1, 63, 65, 197, K = 17, 33, 48 ...), and the
// convolutions run at xcit_small / xcit_medium's patch-embedding widths (C = 192, 384).
#include "emu_test.h"

#include "cuda/fast_divmod.h"

using namespace emu_test;
XCIT_EMU_OP(linear)
XCIT_EMU_OP(conv3x3s2)
XCIT_EMU_OP(conv_transpose2x2)
XCIT_EMU_OP(im2col3x3s2)

namespace {

double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

// linear against the double reference (no CPU C op, see the top). Inputs in [-1, 1] and
// weights in [-1/sqrt(K), 1/sqrt(K)]: outputs O(1) whatever K, so one scale (2) serves
// every shape (the convolutions too); a wrong or missing term is O(1/sqrt(K)) >> tolerance.
// From guard-offset buffers (element staging) and aligned ones (16-byte units on tensor cores
// where K allows).
template <class T>
struct Linear {
  static void run(int64_t batch, int64_t rows, int64_t k, int64_t o) {
    run(batch, rows, k, o, Start::guard);
    run(batch, rows, k, o, Start::aligned);
  }
  static void run(int64_t batch, int64_t rows, int64_t k, int64_t o, Start start) {
    Ctx ctx;
    const float wscale = 1.0f / std::sqrt(static_cast<float>(k));
    Buffer<T> in(static_cast<size_t>(batch * rows * k), start), w(static_cast<size_t>(batch * o * k), start),
        bias(static_cast<size_t>(batch * o));
    in.fill_uniform(-1, 1);
    w.fill_uniform(-wscale, wscale);
    bias.fill_uniform(-0.5f, 0.5f);
    const auto x = in.values(), wv = w.values(), bv = bias.values();
    for (int flags = 0; flags < 8; ++flags) {
      for (const bool with_bias : {true, false}) {
        const bool batched = (flags & XCIT_CUDA_LINEAR_BATCHED_WEIGHTS) != 0;
        const bool act = (flags & XCIT_CUDA_LINEAR_GELU) != 0;
        const bool accumulate = (flags & XCIT_CUDA_LINEAR_ACCUMULATE) != 0;
        Buffer<T> out(static_cast<size_t>(batch * rows * o));
        out.fill_uniform(-1, 1);  // the residual an accumulating product adds to
        const auto residual = out.values();
        std::vector<double> want(out.n);
        for (int64_t z = 0; z < batch; ++z)
          for (int64_t m = 0; m < rows; ++m)
            for (int64_t n = 0; n < o; ++n) {
              const int64_t wz = batched ? z : 0;
              double acc = with_bias ? bv[wz * o + n] : 0.0;
              for (int64_t kk = 0; kk < k; ++kk) acc += x[(z * rows + m) * k + kk] * wv[(wz * o + n) * k + kk];
              const int64_t i = (z * rows + m) * o + n;
              want[i] = (act ? gelu(acc) : acc) + (accumulate ? residual[i] : 0.0);
            }
        EXPECT_OK(ctx, op::linear<T>(ctx.ctx, out.data(), in.data(), w.data(),
                                     with_bias ? bias.data() : static_cast<const T*>(nullptr), batch,
                                     rows, k, o, static_cast<int32_t>(flags)));
        expect_close("linear " + std::to_string(batch) + "x" + std::to_string(rows) + "x" +
                         std::to_string(k) + "->" + std::to_string(o) + " flags " +
                         std::to_string(flags) + (with_bias ? "" : " no bias") +
                         (start == Start::aligned ? " aligned" : ""),
                     out, want, 2.0);
      }
    }
  }
};

template <class T>
struct Conv {
  static void run(int64_t b, int64_t h, int64_t w, int64_t cin, int64_t cout,
                  bool transposed = true) {
    Ctx ctx;
    const std::string shape = std::to_string(b) + "x" + std::to_string(h) + "x" + std::to_string(w) +
                              "x" + std::to_string(cin) + "->" + std::to_string(cout);
    const float wscale = 1.0f / std::sqrt(static_cast<float>(9 * cin));
    Buffer<T> in(static_cast<size_t>(b * h * w * cin)), weight(static_cast<size_t>(cout * cin * 9)),
        bias(static_cast<size_t>(cout));
    in.fill_uniform(-1, 1);
    weight.fill_uniform(-wscale, wscale);
    bias.fill_uniform(-0.5f, 0.5f);
    const int64_t oh = (h + 1) / 2, ow = (w + 1) / 2;
    const auto inf = f32(in), wf = f32(weight), bf = f32(bias);
    std::vector<float> want(static_cast<size_t>(b * oh * ow * cout));
    int64_t bytes = -1;
    EXPECT_OK(ctx, xcit_cuda_conv3x3s2_workspace_size(ctx, &bytes, b, h, w, cin, cout));
    Buffer<float> workspace(static_cast<size_t>(bytes / 4), Start::aligned);
    void* ws = bytes > 0 ? static_cast<void*>(workspace.data()) : nullptr;  // NULL is fine without a split
    // The weight as loaded, and tap-major (XCIT_CUDA_CONV_TAP_MAJOR) from offset buffers
    // (elements) and aligned ones (16-byte units on tensor cores where Cin allows); plain and
    // with the GELU epilogue between patch-embedding stages (XCIT_CONV_GELU).
    for (const int32_t layout : {0, XCIT_CUDA_CONV_TAP_MAJOR}) {
      for (const Start start : {Start::guard, Start::aligned}) {
        if (layout == 0 && start == Start::aligned) continue;  // the same code as offset
        Buffer<T> x(in.n, start), wt(weight.n, start), out(want.size(), start);
        for (size_t i = 0; i < in.n; ++i) x[i] = in[i];
        for (int64_t o = 0; o < cout; ++o)
          for (int64_t c = 0; c < cin; ++c)
            for (int64_t tap = 0; tap < 9; ++tap) {
              const size_t from = static_cast<size_t>((o * cin + c) * 9 + tap);
              wt[layout == 0 ? from : static_cast<size_t>((o * 9 + tap) * cin + c)] = weight[from];
            }
        const std::string how = std::string(layout != 0 ? " tap-major" : "") + (start == Start::aligned ? " aligned" : "");
        for (const int32_t flags : {0, XCIT_CONV_GELU}) {
          for (size_t i = 0; i < workspace.n; ++i) workspace.set(i, std::nanf(""));  // every slot is written first
          EXPECT_OK(ctx, xcit_cpu_conv3x3s2_f32(ctx, want.data(), inf.data(), wf.data(), bf.data(), b, h, w,
                                                cin, cout, 0, oh, flags));
          EXPECT_OK(ctx, op::conv3x3s2<T>(ctx.ctx, out.data(), ws, x.data(), wt.data(), bias.data(), b,
                                          h, w, cin, cout, flags | layout));
          expect_close(std::string(flags != 0 ? "conv3x3s2+gelu " : "conv3x3s2 ") + shape + how, out, widen(want), 2.0);
        }
      }
    }
    if (!transposed) return;

    // The transposed conv on the same input: (b, 2h, 2w, cout).
    const float tscale = 1.0f / std::sqrt(static_cast<float>(cin));
    Buffer<T> tw(static_cast<size_t>(cin * cout * 4));
    tw.fill_uniform(-tscale, tscale);
    Buffer<T> up(static_cast<size_t>(b * 4 * h * w * cout));
    const auto twf = f32(tw);
    std::vector<float> uw(up.n);
    EXPECT_OK(ctx, xcit_cpu_conv_transpose2x2_f32(ctx, uw.data(), inf.data(), twf.data(), bf.data(), b,
                                                  h, w, cin, cout));
    EXPECT_OK(ctx, op::conv_transpose2x2<T>(ctx.ctx, up.data(), in.data(), tw.data(), bias.data(),
                                            b, h, w, cin, cout));
    expect_close("conv_transpose2x2 " + shape, up, widen(uw), 2.0);
  }
};

// im2col3x3s2 in two calls (pixels [0, split) and [split, all)), against its definition
// (exact: a copy), once from guard-offset buffers (element copies) and once from aligned ones
// (16-byte units where Cin allows); then cols (pixels, 9 Cin) x the tap-major weight + bias
// through linear (GELU too) against the CPU conv, which pins the weight's relayout.
template <class T>
struct Im2col {
  static void run(int64_t b, int64_t h, int64_t w, int64_t cin, int64_t cout) {
    Ctx ctx;
    const int64_t oh = (h + 1) / 2, ow = (w + 1) / 2, pixels = b * oh * ow, k = 9 * cin;
    const std::string shape = std::to_string(b) + "x" + std::to_string(h) + "x" + std::to_string(w) +
                              "x" + std::to_string(cin) + "->" + std::to_string(cout);
    for (const Start start : {Start::guard, Start::aligned}) {
      const std::string what = "im2col3x3s2 " + shape + (start == Start::aligned ? " aligned" : " offset");
      Buffer<T> in(static_cast<size_t>(b * h * w * cin), start), cols(static_cast<size_t>(pixels * k), start);
      in.fill_uniform(-1, 1);
      const int64_t split = pixels / 3;
      EXPECT_OK(ctx, op::im2col3x3s2<T>(ctx.ctx, cols.data(), in.data(), b, h, w, cin, int64_t{0}, split));
      EXPECT_OK(ctx, op::im2col3x3s2<T>(ctx.ctx, cols.data() + split * k, in.data(), b, h, w, cin, split,
                                        pixels - split));
      int64_t wrong = 0;
      for (int64_t p = 0; p < pixels; ++p) {
        const int64_t ox = p % ow, oy = p / ow % oh, img = p / (ow * oh);
        for (int64_t tap = 0; tap < 9; ++tap) {
          const int64_t iy = 2 * oy - 1 + tap / 3, ix = 2 * ox - 1 + tap % 3;
          for (int64_t c = 0; c < cin; ++c) {
            const bool inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
            const float want = inside ? in.get(static_cast<size_t>(((img * h + iy) * w + ix) * cin + c)) : 0.0f;
            const float got = cols.get(static_cast<size_t>(p * k + tap * cin + c));
            if (!(got == want) && ++wrong <= 3) {
              std::fprintf(stderr, "  %s [%s] pixel %lld tap %lld channel %lld: got %g want %g\n", what.c_str(),
                           type_name<T>(), static_cast<long long>(p), static_cast<long long>(tap),
                           static_cast<long long>(c), got, want);
            }
          }
        }
      }
      ++g_cases;
      EXPECT(wrong == 0, "%s [%s]: %lld elements differ", what.c_str(), type_name<T>(), static_cast<long long>(wrong));
      EXPECT(cols.intact(), "%s [%s]: write outside the output (guard band changed)", what.c_str(), type_name<T>());

      // The GEMM half: the weight (Cout, Cin, 3, 3) relaid out to (Cout, 3, 3, Cin).
      const float wscale = 1.0f / std::sqrt(static_cast<float>(k));
      Buffer<T> weight(static_cast<size_t>(cout * k)), tap_major(static_cast<size_t>(cout * k)),
          bias(static_cast<size_t>(cout));
      weight.fill_uniform(-wscale, wscale);
      bias.fill_uniform(-0.5f, 0.5f);
      for (int64_t o = 0; o < cout; ++o)
        for (int64_t c = 0; c < cin; ++c)
          for (int64_t tap = 0; tap < 9; ++tap)
            tap_major[static_cast<size_t>((o * 9 + tap) * cin + c)] = weight[static_cast<size_t>((o * cin + c) * 9 + tap)];
      const auto inf = f32(in), wf = f32(weight), bf = f32(bias);
      for (const int32_t flags : {0, XCIT_CONV_GELU}) {
        std::vector<float> want(static_cast<size_t>(pixels * cout));
        Buffer<T> out(want.size());
        EXPECT_OK(ctx, xcit_cpu_conv3x3s2_f32(ctx, want.data(), inf.data(), wf.data(), bf.data(), b, h, w, cin,
                                              cout, 0, oh, flags));
        EXPECT_OK(ctx, op::linear<T>(ctx.ctx, out.data(), static_cast<const T*>(cols.data()),
                                     static_cast<const T*>(tap_major.data()), static_cast<const T*>(bias.data()),
                                     int64_t{1}, pixels, k, cout,
                                     flags != 0 ? XCIT_CUDA_LINEAR_GELU : int32_t{0}));
        expect_close(what + (flags != 0 ? " x weight + GELU" : " x weight"), out, widen(want), 2.0);
      }
    }
  }
};

// On a device: xcit_small_12_p16's first patch-embedding conv at 4096 x 4096 (4,194,304
// output pixels x 48 channels = 65,536 row tiles, one more than gridDim.y takes: the
// launch that stopped `xcit bench` with "output pixels exceed the grid"), and a
// transposed conv on 2048 x 2048 pixels (65,536 row tiles too), fp32 and bf16. Under the
// emulator the same folding runs in the lowered-limit pass of main (with_folded_grids);
// these shapes would be ~17M emulated threads per launch (over a minute here).
template <class T>
struct PastGridY {
  static void run() {
#if defined(XCIT_TEST_ON_DEVICE) && !defined(XCIT_TEST_FAKE_DEVICE)
    Conv<T>::run(1, 4096, 4096, 3, 48, false);
    Conv<T>::run(1, 2048, 2048, 48, 8);
#endif
  }
};

// FastDivmod against '/' and '%': every divisor to 4096 and powers of two and their
// neighbours up to 2^31 - 1, each with dividends at 0, near every multiple boundary it can
// reach cheaply, near 2^31 and random ones.
void fast_divmod() {
  std::vector<int64_t> divisors;
  for (int64_t d = 1; d <= 4096; ++d) divisors.push_back(d);
  for (int s = 12; s <= 31; ++s) {
    for (int64_t e : {-1, 0, 1}) {
      const int64_t d = (int64_t{1} << s) + e;
      if (d >= 1 && d < xcit::kFastDivmodLimit) divisors.push_back(d);
    }
  }
  divisors.push_back(3 * 7 * 11 * 13 * 17 * 19 * 23);  // odd, composite, large
  uint64_t state = 0x9E3779B97F4A7C15ull;
  int64_t checked = 0, wrong = 0;
  for (const int64_t d : divisors) {
    const xcit::FastDivmod f(d);
    std::vector<int64_t> ns = {0, 1, d - 1, d, d + 1, 2 * d - 1, 2 * d, xcit::kFastDivmodLimit - 1,
                               xcit::kFastDivmodLimit - 2, (xcit::kFastDivmodLimit - 1) / d * d,
                               (xcit::kFastDivmodLimit - 1) / d * d - 1};
    for (int i = 0; i < 64; ++i) {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;
      ns.push_back(static_cast<int64_t>(state % static_cast<uint64_t>(xcit::kFastDivmodLimit)));
    }
    for (const int64_t n : ns) {
      if (n < 0 || n >= xcit::kFastDivmodLimit) continue;
      uint32_t q, r;
      f.divmod(static_cast<uint32_t>(n), q, r);
      ++checked;
      if (q != n / d || r != n % d) {
        if (++wrong <= 5) EXPECT(false, "FastDivmod(%lld): %lld -> %u r %u", static_cast<long long>(d),
                                 static_cast<long long>(n), q, r);
      }
    }
  }
  EXPECT(wrong == 0, "FastDivmod: %lld of %lld quotients wrong", static_cast<long long>(wrong),
         static_cast<long long>(checked));
}

// Which shapes split K, and by how much workspace: xcit_small_12_p16's four stages at 224.
void workspace_sizes() {
  Ctx ctx;
  struct Case {
    int64_t b, h, w, cin, cout, bytes;
  };
  // Stage 1 at batch 1 (196 x 1 tiles, K = 27) and every stage at batch 64 fill the GPU:
  // no split. Stages 2-4 at batch 1 (98, 39 and 24 tiles): 2, 4 and 6 slices.
  const Case cases[] = {{1, 224, 224, 3, 48, 0},
                        {1, 112, 112, 48, 96, 2 * 3136 * 96 * 4},
                        {1, 56, 56, 96, 192, 4 * 784 * 192 * 4},
                        {1, 28, 28, 192, 384, 6 * 196 * 384 * 4},
                        {64, 28, 28, 192, 384, 0}};
  for (const Case& c : cases) {
    int64_t bytes = -1;
    EXPECT_OK(ctx, xcit_cuda_conv3x3s2_workspace_size(ctx, &bytes, c.b, c.h, c.w, c.cin, c.cout));
    EXPECT(bytes == c.bytes, "conv3x3s2 workspace %lldx%lldx%lldx%lld->%lld: %lld bytes, want %lld",
           static_cast<long long>(c.b), static_cast<long long>(c.h), static_cast<long long>(c.w),
           static_cast<long long>(c.cin), static_cast<long long>(c.cout), static_cast<long long>(bytes),
           static_cast<long long>(c.bytes));
  }
}

void check_errors() {
  Ctx ctx;
  float buf[16] = {};
  EXPECT(xcit_cuda_linear_f32(ctx, buf, buf, buf, nullptr, 1, 2, 2, 2, 8) == XCIT_ERR_INVALID_ARGUMENT,
         "unknown flag");
  EXPECT(std::strstr(ctx.error(), "flags") != nullptr, "text: %s", ctx.error());
  EXPECT(xcit_cuda_conv3x3s2_f32(ctx, buf, nullptr, buf + 4, buf + 8, buf + 12, 1, 2, 2, 1, 1, XCIT_CONV_CHANNELS_FIRST) ==
             XCIT_ERR_INVALID_ARGUMENT,
         "channel-first input is the CPU backend's");
  EXPECT(xcit_cuda_conv3x3s2_f32(ctx, buf, nullptr, buf, buf, nullptr, 1, 2, 2, 1, 1, 0) == XCIT_ERR_INVALID_ARGUMENT,
         "conv bias is required");
  // A split shape (2 x 3 x 4 pixels, 192 -> 384: K = 1728) without its workspace.
  EXPECT(xcit_cuda_conv3x3s2_f32(ctx, buf, nullptr, buf, buf, buf, 2, 3, 4, 192, 384, 0) == XCIT_ERR_INVALID_ARGUMENT,
         "the workspace of a split conv is required");
  EXPECT(std::strstr(ctx.error(), "workspace") != nullptr, "text: %s", ctx.error());
  // 2 x 3 x 4 pixels -> 2 x 2 x 2 = 8 output pixels: [6, 6 + 3) is past them.
  EXPECT(xcit_cuda_im2col3x3s2_f32(ctx, buf, buf, 2, 3, 4, 1, 6, 3) == XCIT_ERR_INVALID_ARGUMENT,
         "im2col pixels past the output");
  EXPECT(std::strstr(ctx.error(), "outside the 8 output pixels") != nullptr, "text: %s", ctx.error());
  EXPECT(xcit_cuda_im2col3x3s2_f32(ctx, buf, buf, 2, 3, 4, 1, -1, 3) == XCIT_ERR_INVALID_ARGUMENT,
         "im2col negative first pixel");
}

}  // namespace

int main() {
  require_device("test_gemm");
  const int64_t linear[][4] = {{1, 1, 1, 1}, {1, 7, 33, 5}, {2, 65, 17, 63}, {1, 197, 48, 144},
                               {3, 20, 130, 70}, {2, 31, 16, 16}, {1, 66, 32, 129}};
  // The patch embedding's first stage (3 channels in), an odd image, C/8 -> C/4 widths.
  const int64_t conv[][5] = {{1, 1, 1, 1, 1}, {1, 15, 17, 3, 16}, {2, 9, 7, 24, 48}, {1, 8, 8, 33, 65}};
  // The four patch-embedding stages of C = 192 (xcit_small) and 384 (xcit_medium):
  // 3 -> C/8 (K = 27), C/8 -> C/4, C/4 -> C/2, C/2 -> C (K = 9C/2), batch 2 on small odd
  // images (the real ones only add row tiles); the transposed conv also runs at 24 -> 48.
  const int64_t model_conv[][5] = {{2, 11, 9, 3, 24},   {2, 7, 6, 24, 48},   {2, 5, 7, 48, 96},
                                   {2, 4, 5, 96, 192},  {2, 9, 11, 3, 48},   {2, 6, 7, 48, 96},
                                   {2, 5, 4, 96, 192},  {2, 3, 4, 192, 384}};
  with_folded_grids([&] {
    for (const auto& s : linear) for_each_type<Linear>(s[0], s[1], s[2], s[3]);
    for (const auto& s : conv) for_each_type<Conv>(s[0], s[1], s[2], s[3], s[4]);
    for (const auto& s : conv) for_each_type<Im2col>(s[0], s[1], s[2], s[3], s[4]);
  });
  for (const auto& s : model_conv) for_each_type<Conv>(s[0], s[1], s[2], s[3], s[4], s[4] == 48 && s[3] == 24);
  for (const auto& s : model_conv) for_each_type<Im2col>(s[0], s[1], s[2], s[3], s[4]);
  PastGridY<float>::run();
  PastGridY<bf16>::run();
  fast_divmod();
  workspace_sizes();
  check_errors();
  return summary("test_emu_gemm");
}
