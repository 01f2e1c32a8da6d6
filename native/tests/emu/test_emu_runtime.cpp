// The emulator itself (src/cuda/emu): the semantics the kernel tests rely on. Barriers
// synchronise, shared memory is per block, shuffles move the right lanes' values, 3-D
// indices are right, and the ways a kernel can be wrong on a GPU without crashing here
// (a barrier not reached by every thread, a shuffle by part of a warp, a bad launch
// configuration, a warp matrix operation that breaks wmma's rules) make the launch fail
// instead of passing silently.
#include "cuda/compat.h"
#include "cuda/emu/wmma_emu.h"
#include "cuda/reduce.h"
#include "emu_test.h"

using namespace emu_test;

namespace {

// Thread t of block b writes what it sees after a barrier: proves that a write before
// __syncthreads is visible to every thread after it, and that __shared__ is per block.
__global__ void shared_kernel(int* out) {
  __shared__ int value[1];
  if (threadIdx.x == 0) value[0] = 1000 + static_cast<int>(blockIdx.x);
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = value[0];
  __syncthreads();  // nobody may overwrite value before everyone has read it
}

__global__ void reduce_kernel(float* out, int* shuffles) {
  __shared__ float scratch[33];
  const float v = static_cast<float>(threadIdx.x + 1);
  out[blockIdx.x] = xcit::block_sum(v, scratch);
  const int lane = threadIdx.x % 32;
  shuffles[threadIdx.x * 3 + 0] = __shfl_xor_sync(0xffffffffu, lane, 5);
  shuffles[threadIdx.x * 3 + 1] = __shfl_down_sync(0xffffffffu, lane, 3);
  shuffles[threadIdx.x * 3 + 2] = __shfl_sync(0xffffffffu, lane, 7);
}

__global__ void index_kernel(int* out) {
  const int block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  const int thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  const int threads = blockDim.x * blockDim.y * blockDim.z;
  out[block * threads + thread] = static_cast<int>(blockIdx.x + 10 * blockIdx.y + 100 * blockIdx.z +
                                                   1000 * threadIdx.x + 10000 * threadIdx.y +
                                                   100000 * threadIdx.z);
}

__global__ void divergent_barrier_kernel(int* out) {
  if (threadIdx.x < 5) return;  // these threads never reach the barrier
  __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void partial_shuffle_kernel(int* out) {
  if (threadIdx.x % 32 < 16) out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1, 1);
}

__global__ void dynamic_shared_kernel(float* out) {
  XCIT_DYNAMIC_SHARED(float, smem);
  out[blockIdx.x * blockDim.x + threadIdx.x] = smem[threadIdx.x];  // never written: garbage
  __syncthreads();
  smem[threadIdx.x] = 1.0f;
}

namespace wmma = nvcuda::wmma;

// c (16 x 16, row-major, ldc 16) += A B through wmma, A and B with the given layouts.
template <class T, class LA, class LB>
__global__ void wmma_kernel(float* c, const T* a, int lda, const T* b, int ldb) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, T, LA> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, T, LB> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::load_matrix_sync(fa, a, lda);
  wmma::load_matrix_sync(fb, b, ldb);
  wmma::load_matrix_sync(acc, c, 16, wmma::mem_row_major);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(c, acc, 16, wmma::mem_row_major);
}

// The ways to break wmma's contract: `how` 0 = half a warp loads, 1 = a pointer 2 bytes
// off 32-byte alignment, 2 = lanes pass different pointers, 3 = ldm of 12 bytes.
__global__ void wmma_broken_kernel(const bf16* a, int how) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> fa;
  if (how == 0 && threadIdx.x % 32 >= 16) return;
  const bf16* p = how == 1 ? a + 1 : how == 2 ? a + 16 * (threadIdx.x % 2) : a;
  wmma::load_matrix_sync(fa, p, how == 3 ? 6 : 16);
}

template <class T, class LA, class LB>
void check_wmma_product(const char* what) {
  constexpr int kLd = 24;  // 48 bytes of 16-bit values: a multiple of 16, not of 32
  alignas(32) T a[16 * kLd], b[16 * kLd];
  alignas(32) float c[256];
  double want[256];
  for (int i = 0; i < 16 * kLd; ++i) {
    a[i] = from_f<T>(uniform(-2, 2));
    b[i] = from_f<T>(uniform(-2, 2));
  }
  for (int i = 0; i < 256; ++i) c[i] = uniform(-1, 1);
  const bool ra = std::is_same_v<LA, wmma::row_major>, rb = std::is_same_v<LB, wmma::row_major>;
  for (int r = 0; r < 16; ++r)
    for (int col = 0; col < 16; ++col) {
      double acc = c[r * 16 + col];
      for (int k = 0; k < 16; ++k) {
        acc += static_cast<double>(to_f(a[ra ? r * kLd + k : r + k * kLd])) * to_f(b[rb ? k * kLd + col : k + col * kLd]);
      }
      want[r * 16 + col] = acc;
    }
  EXPECT(xcit_launch(wmma_kernel<T, LA, LB>, dim3(1), dim3(64), 0, nullptr, c, static_cast<const T*>(a), kLd,
                     static_cast<const T*>(b), kLd) == cudaSuccess,
         "%s: %s", what, xcit_emu::last_failure());
  // 16 exact products summed in fp32: within 16 roundings of the largest partial sum.
  for (int i = 0; i < 256; ++i) {
    EXPECT(std::fabs(c[i] - want[i]) < 1e-4, "%s [%d]: %g, want %g", what, i, c[i], want[i]);
  }
}

void check_wmma() {
  check_wmma_product<bf16, wmma::row_major, wmma::row_major>("wmma bf16 row/row");
  check_wmma_product<bf16, wmma::col_major, wmma::row_major>("wmma bf16 col/row");
  check_wmma_product<half, wmma::row_major, wmma::col_major>("wmma f16 row/col");
  check_wmma_product<half, wmma::col_major, wmma::col_major>("wmma f16 col/col");
  alignas(32) bf16 a[16 * 16] = {};
  const char* expected[] = {"deadlock", "misaligned", "different pointers", "ldm"};
  for (int how = 0; how < 4; ++how) {
    EXPECT(xcit_launch(wmma_broken_kernel, dim3(1), dim3(32), 0, nullptr, static_cast<const bf16*>(a), how) ==
               cudaErrorLaunchFailure,
           "broken wmma use %d must fail the launch", how);
    EXPECT(std::strstr(xcit_emu::last_failure(), expected[how]) != nullptr, "case %d: %s", how,
           xcit_emu::last_failure());
    (void)cudaGetLastError();
  }
}

void check_shared_and_barriers() {
  std::vector<int> out(4 * 96, -1);
  EXPECT(xcit_launch(shared_kernel, dim3(4), dim3(96), 0, nullptr, out.data()) == cudaSuccess,
         "launch: %s", xcit_emu::last_failure());
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT(out[i] == 1000 + static_cast<int>(i / 96), "thread %zu saw %d", i, out[i]);
  }
}

void check_reductions_and_shuffles() {
  std::vector<float> sums(3, 0);
  std::vector<int> shuffles(256 * 3, -1);
  EXPECT(xcit_launch(reduce_kernel, dim3(3), dim3(256), 0, nullptr, sums.data(), shuffles.data()) ==
             cudaSuccess,
         "launch: %s", xcit_emu::last_failure());
  for (float s : sums) EXPECT(s == 256.0f * 257.0f / 2.0f, "block_sum %g", s);
  for (int t = 0; t < 256; ++t) {
    const int lane = t % 32;
    EXPECT(shuffles[t * 3] == (lane ^ 5), "xor lane %d got %d", lane, shuffles[t * 3]);
    // shfl_down beyond the warp returns the caller's own value.
    EXPECT(shuffles[t * 3 + 1] == (lane + 3 < 32 ? lane + 3 : lane), "down lane %d got %d", lane,
           shuffles[t * 3 + 1]);
    EXPECT(shuffles[t * 3 + 2] == 7, "broadcast lane %d got %d", lane, shuffles[t * 3 + 2]);
  }
}

void check_indices() {
  const dim3 grid(3, 2, 2), block(4, 3, 2);
  std::vector<int> out(12 * 24, -1);
  EXPECT(xcit_launch(index_kernel, grid, block, 0, nullptr, out.data()) == cudaSuccess, "launch");
  for (int bz = 0; bz < 2; ++bz)
    for (int by = 0; by < 2; ++by)
      for (int bx = 0; bx < 3; ++bx)
        for (int tz = 0; tz < 2; ++tz)
          for (int ty = 0; ty < 3; ++ty)
            for (int tx = 0; tx < 4; ++tx) {
              const int at = ((bz * 2 + by) * 3 + bx) * 24 + (tz * 3 + ty) * 4 + tx;
              const int want = bx + 10 * by + 100 * bz + 1000 * tx + 10000 * ty + 100000 * tz;
              EXPECT(out[at] == want, "index at %d: %d != %d", at, out[at], want);
            }
}

void check_failures() {
  std::vector<int> out(64, 0);
  EXPECT(xcit_launch(divergent_barrier_kernel, dim3(1), dim3(64), 0, nullptr, out.data()) ==
             cudaErrorLaunchFailure,
         "a barrier skipped by 5 threads must fail the launch");
  EXPECT(std::strstr(xcit_emu::last_failure(), "deadlock") != nullptr, "text: %s",
         xcit_emu::last_failure());
  EXPECT(cudaGetLastError() == cudaErrorLaunchFailure, "sticky error");
  EXPECT(cudaGetLastError() == cudaSuccess, "cudaGetLastError clears the error");

  EXPECT(xcit_launch(partial_shuffle_kernel, dim3(1), dim3(32), 0, nullptr, out.data()) ==
             cudaErrorLaunchFailure,
         "a full-mask shuffle by half a warp must fail");

  EXPECT(xcit_launch(shared_kernel, dim3(1), dim3(2048), 0, nullptr, out.data()) ==
             cudaErrorInvalidConfiguration,
         "2048 threads per block");
  EXPECT(xcit_launch(shared_kernel, dim3(1, 70000), dim3(32), 0, nullptr, out.data()) ==
             cudaErrorInvalidConfiguration,
         "gridDim.y > 65535");
  std::vector<float> f(2 * 64, 0);
  EXPECT(xcit_launch(dynamic_shared_kernel, dim3(1), dim3(64), 64 * 1024, nullptr, f.data()) ==
             cudaErrorInvalidValue,
         "64 KiB of dynamic shared memory without opt-in");
  (void)cudaGetLastError();
  EXPECT(xcit_launch(dynamic_shared_kernel, dim3(2), dim3(64), 64 * sizeof(float), nullptr,
                     f.data()) == cudaSuccess,
         "launch");
  for (size_t i = 0; i < f.size(); ++i) {
    EXPECT(std::isnan(f[i]), "unwritten dynamic shared memory read %g at %zu (block 2 must not "
                             "see block 1's values)", f[i], i);
  }
}

}  // namespace

int main() {
  check_shared_and_barriers();
  check_reductions_and_shuffles();
  check_indices();
  check_failures();
  check_wmma();
  g_cases = 6;
  return summary("test_emu_runtime");
}
