// The subset of CUDA that xcit's kernels use, emulated on the host (DESIGN.md 7.5).
//
// Included (through cuda/compat.h) instead of cuda_runtime.h when a .cu file is compiled
// by g++ for the kernel tests. A launch runs the grid's blocks one after another; inside a
// block every thread is a fiber (ucontext) on one OS thread, and __syncthreads, warp
// shuffles and __syncwarp are cooperative barriers: a fiber that arrives yields to the
// scheduler until every thread of its block (or warp) has arrived. So a kernel runs with
// real barrier semantics, and a barrier that some threads never reach (divergent
// __syncthreads, a shuffle by part of a warp) is reported as an error instead of hanging.
//
// __shared__ becomes `static`: blocks never overlap, so a function-static array is
// exactly "one copy per block". Atomics need no locking: fibers switch only at barriers.
// Nothing here tries to model timing, memory coherence or the memory model; the tests
// check results, guard bands and barrier discipline.
#ifndef XCIT_CUDA_EMU_H
#define XCIT_CUDA_EMU_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

// ---- types and errors of the runtime API ---------------------------------------------
struct uint3 {
  unsigned int x, y, z;
};
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1)
      : x(vx), y(vy), z(vz) {}
};

// The runtime's values (driver_types.h) for the errors the emulator and its runtime
// stand-in (runtime_emu.cpp) report.
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorLaunchFailure = 719,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureImplicit = 906,
  cudaErrorStreamCaptureWrongThread = 908,
};
typedef struct CUstream_st* cudaStream_t;
// The runtime version the emulated device reports (device.cu compiles against it).
#define CUDART_VERSION 13000

// C linkage, as in the real runtime: the emulated device's shared library exports these
// to the Java bindings (runtime_emu.cpp defines the rest of the bound cudart subset).
extern "C" {
const char* cudaGetErrorName(cudaError_t err);
const char* cudaGetErrorString(cudaError_t err);
// Returns and clears the error of the last failed emulated launch, like the runtime.
cudaError_t cudaGetLastError(void);
cudaError_t cudaGetDeviceCount(int* count);
}

// ---- the emulator proper -------------------------------------------------------------
namespace xcit_emu {

constexpr int kWarpSize = 32;
// The default per-block dynamic shared memory limit (48 KiB without the opt-in
// attribute): a launch above it fails here as it would on a device.
constexpr size_t kMaxDynamicShared = 48 * 1024;

const uint3& thread_idx();
const uint3& block_idx();
const dim3& block_dim();
const dim3& grid_dim();
void syncthreads();
void syncwarp(unsigned mask);
void* dynamic_shared();
// One warp-wide exchange: every lane of the calling warp publishes `bytes` from `mine`
// and receives lane `src`'s value in `out` (its own if src is out of range, as CUDA does
// for shfl_down beyond the width). `mask` must name every lane of the warp.
void warp_exchange(const void* mine, void* out, size_t bytes, int src, unsigned mask);
// A warp-collective all-gather (the warp-wide matrix functions of wmma_emu.h): every lane
// of the calling warp, which must be whole (32 lanes), publishes `bytes` from `mine`; each
// lane then receives all 32 contributions in `all`, lane 0's first. `mask` must be full.
void warp_all_gather(const void* mine, void* all, size_t bytes, unsigned mask);
// Ends the launch with an error unless p is a multiple of `bytes` (a power of two): a
// device faults on a misaligned vector or matrix access ("misaligned address").
void require_aligned(const void* p, size_t bytes, const char* what);
int lane_id();
// The grid dimensions launch() accepts: a device's (x up to 2^31 - 1, y and z up to
// 65535) unless a test lowers them, to make the launchers fold small shapes (cuda/grid.h
// sizes every launch by these). Raising them above a device's is refused (false).
dim3 grid_limits();
bool set_grid_limits(dim3 limits);
// Runs body once per thread of every block. Returns cudaSuccess or the error (also kept
// for cudaGetLastError); details of a failure go to last_failure() and stderr.
cudaError_t launch(dim3 grid, dim3 block, size_t dynamic_smem, const std::function<void()>& body);
// cudaSuccess if a device would accept this configuration, else the error (recorded as
// the launch failure, for cudaGetLastError and last_failure()).
cudaError_t check_launch(dim3 grid, dim3 block, size_t dynamic_smem);
// What xcit_launch calls: without a runtime (the kernel tests) the kernel runs now, on
// any stream; the emulated device's runtime (runtime_emu.cpp) installs a hook that
// queues the launch on its stream, or records it while the stream is being captured.
using LaunchHook = cudaError_t (*)(cudaStream_t stream, dim3 grid, dim3 block, size_t dynamic_smem,
                                   std::function<void()> body);
void set_launch_hook(LaunchHook hook);
cudaError_t launch_on(cudaStream_t stream, dim3 grid, dim3 block, size_t dynamic_smem,
                      std::function<void()> body);
// Reports a kernel-side failure (e.g. a trap) and ends the launch with an error.
[[noreturn]] void fail(const char* what);
const char* last_failure();
// How many launches and barrier arrivals ran since start (test statistics).
uint64_t launches();
uint64_t barrier_arrivals();

}  // namespace xcit_emu

// ---- the CUDA language surface -------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __restrict__ __restrict
#define __align__(n) alignas(n)

#define threadIdx (::xcit_emu::thread_idx())
#define blockIdx (::xcit_emu::block_idx())
#define blockDim (::xcit_emu::block_dim())
#define gridDim (::xcit_emu::grid_dim())
#define warpSize (::xcit_emu::kWarpSize)

inline void __syncthreads() { ::xcit_emu::syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::xcit_emu::syncwarp(mask); }
inline void __threadfence() {}
inline void __trap() { ::xcit_emu::fail("__trap() called"); }

template <class T>
inline T __shfl_sync(unsigned mask, T v, int src_lane, int width = warpSize) {
  const int lane = ::xcit_emu::lane_id();
  const int base = lane & ~(width - 1);
  T out;
  ::xcit_emu::warp_exchange(&v, &out, sizeof(T), base + (src_lane & (width - 1)), mask);
  return out;
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = warpSize) {
  const int lane = ::xcit_emu::lane_id();
  const int src = lane ^ lane_mask;
  // Outside the caller's segment of `width` lanes the source is the caller itself.
  const bool same_segment = (src & ~(width - 1)) == (lane & ~(width - 1));
  T out;
  ::xcit_emu::warp_exchange(&v, &out, sizeof(T), same_segment ? src : lane, mask);
  return out;
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = warpSize) {
  const int lane = ::xcit_emu::lane_id();
  const int src = lane + static_cast<int>(delta);
  const bool same_segment = (src & ~(width - 1)) == (lane & ~(width - 1));
  T out;
  ::xcit_emu::warp_exchange(&v, &out, sizeof(T), same_segment ? src : lane, mask);
  return out;
}

// Fibers switch only at barriers, so a plain read-modify-write is atomic here.
template <class T>
inline T atomicAdd(T* address, T value) {
  const T old = *address;
  *address = old + value;
  return old;
}
inline unsigned int atomicInc(unsigned int* address, unsigned int limit) {
  const unsigned int old = *address;
  *address = old >= limit ? 0u : old + 1u;
  return old;
}

template <class T>
inline T __ldg(const T* p) {
  return *p;
}
// A load that bypasses L1 (data another block wrote); the emulator has no caches.
template <class T>
inline T __ldcg(const T* p) {
  return *p;
}
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __fdividef(float a, float b) { return a / b; }

#endif  // XCIT_CUDA_EMU_H
