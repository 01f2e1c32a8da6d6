// Class attention under the emulator, fp32/fp16/bf16, against the CPU backend's
// xcit_cpu_class_attention_f32, with and without the attention-weights output: rows T = 1
// (only the cls row), 8 (one per warp), 197 and 600 (many rows per warp), head dims
// 32/48/64, batches 1-3.
#include "emu_test.h"

using namespace emu_test;
XCIT_EMU_OP(class_attention)

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

void check_errors() {
  Ctx ctx;
  float buf[64] = {};
  EXPECT(xcit_cuda_class_attention_f32(ctx, buf, nullptr, buf, buf, 1, 0, 8, 1) ==
             XCIT_ERR_INVALID_ARGUMENT,
         "no rows");
  EXPECT(xcit_cuda_class_attention_f32(ctx, buf, nullptr, buf, buf, 1, 3, 8, 3) ==
             XCIT_ERR_INVALID_ARGUMENT,
         "8 %% 3");
}

}  // namespace

int main() {
  require_device("test_class_attention");
  const int64_t shapes[][4] = {{1, 1, 32, 1}, {2, 8, 96, 2}, {1, 197, 128, 2}, {3, 600, 64, 1}};
  with_folded_grids([&] {
    for (const auto& s : shapes) for_each_type<Case>(s[0], s[1], s[2], s[3]);
  });
  check_errors();
  return summary("test_emu_class_attention");
}
