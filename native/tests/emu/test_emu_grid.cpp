// Launches of any size (src/cuda/grid.h) under the emulator:
// - the launch grids for the sizes issue 12 names (xcit_small_12_p16 at 4096^2 and
//   8192^2, xcit_small_12_p8 at 4096^2) and far beyond, from the functions the launchers
//   call (launch_grid, gemm_grid, elementwise_grid), against a device's limits: every
//   dimension within them, folded exactly where the logical grid exceeds them;
// - for_each_block walking more blocks than a device launches: 65,537 one-warp logical
//   blocks in y and in z under a device's limits (each visited exactly once), and a 3-D
//   walk under lowered limits whose blocks share memory across the folded iterations;
// - element offsets past 2^31: gather_row / scatter_row on a (2, R, 384) bf16 tensor of
//   just over 2^31 elements, address space reserved with mmap, only the copied rows touched.
// The ops' folded paths against the CPU references run in each op's own test (a second
// pass with every grid dimension limited to one block, emu_test.h with_folded_grids);
// on a device, test_gpu_gemm runs conv3x3s2 and conv_transpose2x2 past 65,535 row tiles.
#include <sys/mman.h>

#include "cuda/elementwise.h"
#include "cuda/gemm_tile.h"
#include "cuda/grid.h"
#include "emu_test.h"

using namespace emu_test;
XCIT_EMU_OP(gather_row)
XCIT_EMU_OP(scatter_row)

namespace {

constexpr int64_t kTwo31 = int64_t{1} << 31;

// The launch for a logical grid is valid on a device and covers it: each dimension in
// [1, limit], the logical count where it fits, else the limit and `folded` (the kernel
// then walks the rest). Returns the logical blocks of the busiest launched block.
int64_t check_launch(const std::string& what, const xcit::LaunchGrid& launch, int64_t x, int64_t y,
                     int64_t z) {
  ++g_cases;
  const xcit::GridLimits lim = xcit::kDeviceGridLimits;
  const int64_t got[3] = {launch.dims.x, launch.dims.y, launch.dims.z}, want[3] = {x, y, z},
                max[3] = {lim.x, lim.y, lim.z};
  int64_t fold = 1;
  for (int d = 0; d < 3; ++d) {
    EXPECT(got[d] >= 1 && got[d] <= max[d] && got[d] <= want[d] &&
               (got[d] == want[d] || got[d] == max[d]),
           "%s: dimension %d launches %lld blocks for %lld logical (limit %lld)", what.c_str(), d,
           static_cast<long long>(got[d]), static_cast<long long>(want[d]),
           static_cast<long long>(max[d]));
    fold *= xcit::ceil_div(want[d], got[d] > 0 ? got[d] : 1);
  }
  EXPECT(launch.folded == (fold > 1), "%s: folded = %d but %lld logical blocks per launched one",
         what.c_str(), launch.folded, static_cast<long long>(fold));
  return fold;
}

// One model at one size: every launcher's logical grid at that size (batch 1).
void check_model(const char* name, int64_t side, int64_t patch, int64_t c, int64_t heads) {
  const xcit::GridLimits dev = xcit::kDeviceGridLimits;
  const std::string at = std::string(name) + " @" + std::to_string(side) + ": ";
  // Patch embedding: conv3x3s2 stages, rows = output pixels, columns = output channels.
  int64_t s = side, cin = 3;
  for (int64_t cout = patch == 16 ? c / 8 : c / 4; cout <= c; cout *= 2) {
    s = (s + 1) / 2;
    const int64_t pixels = s * s;
    const int64_t fold = check_launch(at + "conv3x3s2 -> " + std::to_string(cout),
                                      xcit::gemm_grid(pixels, cout, 1, dev),
                                      xcit::ceil_div(cout, xcit::kGemmTile),
                                      xcit::ceil_div(pixels, xcit::kGemmTile), 1);
    if (cin == 3) {
      std::printf("%sstage-0 conv: %lld pixels x %lld channels, %lld row tiles, folded x%lld\n",
                  at.c_str(), static_cast<long long>(pixels), static_cast<long long>(cout),
                  static_cast<long long>(xcit::ceil_div(pixels, xcit::kGemmTile)),
                  static_cast<long long>(fold));
    }
    cin = cout;
  }
  const int64_t grid = s, n = grid * grid;
  EXPECT(grid == side / patch, "%sgrid %lld", at.c_str(), static_cast<long long>(grid));
  // Linears of the blocks (qkv, proj, fc1, fc2) on N rows.
  for (const int64_t o : {3 * c, c, 4 * c}) {
    check_launch(at + "linear -> " + std::to_string(o), xcit::gemm_grid(n, o, 1, dev),
                 xcit::ceil_div(o, xcit::kGemmTile), xcit::ceil_div(n, xcit::kGemmTile), 1);
  }
  // LayerNorm: one logical block per row (N + 1 in the class-attention stage).
  check_launch(at + "layernorm", xcit::launch_grid(n + 1, 1, 1, dev), n + 1, 1, 1);
  // XCA: gram (splits <= 32, heads, batch), apply (64-token tiles, heads, batch).
  check_launch(at + "xca gram", xcit::launch_grid(32, heads, 1, dev), 32, heads, 1);
  check_launch(at + "xca apply", xcit::launch_grid(xcit::ceil_div(n, 64), heads, 1, dev),
               xcit::ceil_div(n, 64), heads, 1);
  // LPI: (8x8 tiles, 32-channel chunks, batch).
  const int64_t tiles = xcit::ceil_div(grid, 8) * xcit::ceil_div(grid, 8);
  check_launch(at + "lpi", xcit::launch_grid(tiles, xcit::ceil_div(c, 32), 1, dev), tiles,
               xcit::ceil_div(c, 32), 1);
  // Class attention (heads, batch); the covariance GEMM (C x C+1 over batch*8 slices).
  check_launch(at + "class_attention", xcit::launch_grid(heads, 1, 1, dev), heads, 1, 1);
  check_launch(at + "xca_covariance", xcit::gemm_grid(c, c + 1, 8, dev), xcit::ceil_div(c + 1, 64),
               xcit::ceil_div(c, 64), 8);
  // Dense outputs: ConvT 2x2 (rows = input pixels, columns 4C) up to stride 4, whose
  // output (side/4)^2 x C is the largest dense tensor.
  for (int64_t in_side = grid; in_side < side / 4; in_side *= 2) {
    const int64_t pixels = in_side * in_side;
    check_launch(at + "conv_transpose2x2", xcit::gemm_grid(pixels, 4 * c, 1, dev),
                 xcit::ceil_div(4 * c, 64), xcit::ceil_div(pixels, 64), 1);
  }
  // Element-wise ops (BN affine, GELU, max_pool) on it: a grid-stride loop, 4096 blocks.
  const int64_t dense = (side / 4) * (side / 4) * c;
  const dim3 e = xcit::elementwise_grid(dense, dev);
  ++g_cases;
  EXPECT(e.x == xcit::kMaxElementwiseBlocks && e.y == 1 && e.z == 1, "%selementwise over %lld: %u",
         at.c_str(), static_cast<long long>(dense), e.x);
}

void check_huge_grids() {
  check_model("xcit_small_12_p16", 4096, 16, 384, 8);
  check_model("xcit_small_12_p16", 8192, 16, 384, 8);
  check_model("xcit_small_12_p8", 4096, 8, 384, 8);
  check_model("xcit_large_24_p8", 16384, 8, 768, 16);
  // Past anything that fits in memory: every dimension beyond its limit at once, and an
  // element count past 2^40 for the grid-stride kernels.
  const xcit::GridLimits dev = xcit::kDeviceGridLimits;
  const int64_t big = int64_t{1} << 40;
  check_launch("gemm 2^40 x 2^40 x 2^20", xcit::gemm_grid(big, big, int64_t{1} << 20, dev),
               big / 64, big / 64, int64_t{1} << 20);
  check_launch("folded 2^40 x 2^20 x 2^20",
               xcit::launch_grid(big, int64_t{1} << 20, int64_t{1} << 20, dev), big,
               int64_t{1} << 20, int64_t{1} << 20);
  const dim3 e = xcit::elementwise_grid(big, dev);
  EXPECT(e.x == xcit::kMaxElementwiseBlocks && e.y == 1 && e.z == 1, "elementwise 2^40: %u", e.x);
}

// Thread 0 of logical block (x, y, z) of an nx * ny * nz grid adds 1 to
// visits[(z * ny + y) * nx + x] and publishes the logical index in shared memory; every
// thread checks after a barrier that it reads its own block's index. Without the barrier between
// folded iterations, thread 0 (resumed first by the emulator) would overwrite it for
// the next logical block before the others had read it.
__global__ void walk_kernel(int* visits, int* mismatches, int64_t nx, int64_t ny, int64_t nz) {
  __shared__ int64_t published[1];
  xcit::for_each_block<true>(nx, ny, nz, [&](int64_t x, int64_t y, int64_t z) {
    const int64_t id = (z * ny + y) * nx + x;
    if (threadIdx.x == 0) {
      published[0] = id;
      ++visits[id];
    }
    __syncthreads();
    if (published[0] != id) ++*mismatches;
  });
}

void walk(const char* what, int64_t nx, int64_t ny, int64_t nz, dim3 limits) {
  ++g_cases;
  const dim3 saved = xcit_emu::grid_limits();
  EXPECT(xcit_emu::set_grid_limits(limits), "%s: limits", what);
  std::vector<int> visits(static_cast<size_t>(nx * ny * nz), 0);
  int mismatches = 0;
  const dim3 grid = xcit::launch_grid(nx, ny, nz).dims;
  EXPECT(xcit_launch(walk_kernel, grid, dim3(32), 0, nullptr, visits.data(), &mismatches, nx, ny,
                     nz) == cudaSuccess,
         "%s: launch (%u, %u, %u): %s", what, grid.x, grid.y, grid.z, xcit_emu::last_failure());
  size_t wrong = 0;
  for (int v : visits) wrong += v != 1;
  EXPECT(wrong == 0, "%s: %zu of %zu logical blocks not visited exactly once", what, wrong,
         visits.size());
  EXPECT(mismatches == 0, "%s: %d reads of another logical block's shared memory", what,
         mismatches);
  xcit_emu::set_grid_limits(saved);
}

void check_walks() {
  const dim3 device(0x7fffffffu, 65535, 65535);
  // 65,537 > 65,535: launched as 65,535 blocks, the first two take two logical blocks.
  walk("65537 blocks in y", 1, 65537, 1, device);
  walk("65537 blocks in z", 1, 1, 65537, device);
  walk("7 x 5 x 3 under limits 2 x 3 x 2", 7, 5, 3, dim3(2, 3, 2));
  walk("4 x 4 x 4 in one block", 4, 4, 4, dim3(1, 1, 1));
  // The emulator refuses what a device refuses, and limits above a device's.
  EXPECT(!xcit_emu::set_grid_limits(dim3(1, 65536, 1)), "limits above a device's");
  EXPECT(xcit_emu::set_grid_limits(dim3(3, 2, 1)), "lowered limits");
  std::vector<int> v(64, 0);
  int m = 0;
  EXPECT(xcit_launch(walk_kernel, dim3(3, 3, 1), dim3(32), 0, nullptr, v.data(), &m, int64_t{3},
                     int64_t{3}, int64_t{1}) == cudaErrorInvalidConfiguration,
         "a launch over the lowered limits must fail");
  (void)cudaGetLastError();
  EXPECT(xcit_emu::set_grid_limits(device), "device limits");
  ++g_cases;
}

// Reserves bytes of address space without committing memory (pages appear as touched);
// nullptr where the system refuses (strict overcommit).
void* reserve(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

// gather_row / scatter_row at element offsets past 2^31: a (2, R, 384) bf16 tensor with
// R * 384 > 2^30, so image 1's rows start past 2^30 and its last row past 2^31 - 384.
void check_offsets_past_2g() {
  const int64_t cols = 384, rows = (kTwo31 / 2) / cols + 7, batch = 2;
  const int64_t elements = batch * rows * cols;
  const size_t bytes = static_cast<size_t>(elements) * sizeof(bf16);
  void* mem = reserve(bytes);
  if (mem == nullptr) {
    std::printf("offsets past 2^31: SKIPPED, cannot reserve %zu bytes of address space\n", bytes);
    return;
  }
  ++g_cases;
  auto* big = static_cast<bf16*>(mem);
  Ctx ctx;
  const int64_t row = rows - 1;  // the last row of each image
  auto at = [&](int64_t b, int64_t ch) { return (b * rows + row) * cols + ch; };
  EXPECT(at(1, cols - 1) >= kTwo31, "offset %lld", static_cast<long long>(at(1, cols - 1)));
  // scatter a known (B, C) block into the last rows, gather it back.
  Buffer<bf16> src(static_cast<size_t>(batch * cols)), back(static_cast<size_t>(batch * cols));
  src.fill_uniform(-1, 1);
  EXPECT_OK(ctx, op::scatter_row<bf16>(ctx.ctx, big, src.data(), batch, rows, cols, row));
  size_t wrong = 0;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t ch = 0; ch < cols; ++ch) wrong += big[at(b, ch)].bits != src[b * cols + ch].bits;
  EXPECT(wrong == 0, "scatter_row past 2^31: %zu wrong elements", wrong);
  EXPECT(big[at(1, 0) - 1].bits == 0 && big[at(0, cols - 1) + 1].bits == 0,
         "scatter_row wrote next to its rows");
  EXPECT_OK(ctx, op::gather_row<bf16>(ctx.ctx, back.data(), big, batch, rows, cols, row));
  std::vector<double> want = src.values();
  expect_close("gather_row past 2^31", back, want, 1.0);
  munmap(mem, bytes);
  std::printf("offsets past 2^31: rows copied at elements %lld and %lld of %lld\n",
              static_cast<long long>(at(0, 0)), static_cast<long long>(at(1, 0)),
              static_cast<long long>(elements));
}

}  // namespace

int main() {
  check_huge_grids();
  check_walks();
  check_offsets_past_2g();
  return summary("test_emu_grid");
}
