// Shared by the kernel tests (native/tests/emu). Each test compares a CUDA op against the
// CPU backend's C op for the same Backend method (the public xcit_cpu_*_f32 entries of
// libxcit, themselves checked op by op against JavaBackend by CpuBackendOpsTest), for
// fp32, fp16 and bf16 storage: the CPU op gets exactly the values the kernel sees,
// widened to float (its kernel set: the best this CPU runs). Where libxcit has no C op
// (the GEMMs: the CPU backend runs them through oneDNN from Java), a naive
// double-precision reference written in the test stands in, and the test says so.
// Every test source builds twice:
// - test_emu_<op>: the ops come from xcit_cuda_emu, i.e. the same .cu sources compiled
//   by g++ against src/cuda/emu, and run on host memory (every machine, every CI run);
// - test_gpu_<op> (XCIT_TEST_ON_DEVICE, where nvcc is found): the ops come from the real
//   libxcit_cuda.so; every Buffer is mirrored to the device around each op call, so the
//   same test bodies and guard bands run on a GPU. Without a device it exits 77 (ctest:
//   skipped) and says why.
//
// Here: storage types and their host conversions, guarded buffers (NaN bands around
// every output, checked after the op), the tolerance rule and its constants, the
// dispatch from a storage type to the exported _f32/_f16/_bf16 entry, and the helpers
// that call the CPU reference ops.
#ifndef XCIT_EMU_TEST_H
#define XCIT_EMU_TEST_H

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#if defined(XCIT_TEST_ON_DEVICE) && !defined(XCIT_TEST_FAKE_DEVICE)
#include <cuda_runtime.h>
#else
#include "cuda/emu/cuda_emu.h"
#endif
#ifdef XCIT_TEST_FAKE_DEVICE
// The device harness against the emulator (test_mirror_<op>): "device" memory is a
// separate host allocation, so the mirroring below (pointer translation, copies in and
// out, guard bands checked on the copied-back bytes) is exercised on every machine.
#include <cstdlib>
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2 };
inline cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = std::malloc(bytes);
  return *p != nullptr ? cudaSuccess : cudaErrorMemoryAllocation;
}
inline cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
#endif
#include <algorithm>
#include <new>

#include "cuda/emu/half_emu.h"
#include "xcit/xcit_cuda.h"

namespace emu_test {

using half = xcit_emu::half;
using bf16 = xcit_emu::bfloat16;

inline int g_failures = 0;
inline int g_cases = 0;

#define EXPECT(cond, ...)                                                      \
  do {                                                                         \
    if (!(cond)) {                                                             \
      ++::emu_test::g_failures;                                                \
      std::fprintf(stderr, "%s:%d: EXPECT(%s) failed: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                       \
      std::fputc('\n', stderr);                                                \
    }                                                                          \
  } while (0)

// ---- storage types ---------------------------------------------------------------
inline float to_f(float v) { return v; }
inline float to_f(half v) { return xcit_emu::half_to_float(v); }
inline float to_f(bf16 v) { return xcit_emu::bf16_to_float(v); }
template <class T>
T from_f(float v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else if constexpr (std::is_same_v<T, half>) return xcit_emu::float_to_half(v);
  else return xcit_emu::float_to_bf16(v);
}
template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, float>) return "f32";
  else if constexpr (std::is_same_v<T, half>) return "f16";
  else return "bf16";
}

// Tolerance: |got - ref| <= atol * scale + rtol * |ref|, with `scale` a typical output
// magnitude the test states (cancellation makes small outputs carry the absolute error
// of their large terms). Kernels compute in fp32 and round each output once; so do the
// CPU reference ops (in another summation order, some statistics in double):
// - f32: fp32 sums of <= a few thousand terms are good to ~1e-6 relative on each side,
//   so the two differ by a few 1e-6; 2e-5 leaves margin for that without hiding a wrong
//   term (O(1/sqrt(K)) off, >= 1e-2 in every test).
// - f16: one rounding is 2^-11 = 4.9e-4 relative; 2e-3 allows that plus the fp32 error,
//   and for chained ops (the residual LayerNorm rounds x first) one more rounding.
// - bf16: one rounding is 2^-8 = 3.9e-3; 1.6e-2 by the same reasoning.
struct Tolerance {
  double atol, rtol;
};
template <class T>
Tolerance tolerance() {
  if constexpr (std::is_same_v<T, float>) return {2e-5, 2e-5};
  else if constexpr (std::is_same_v<T, half>) return {2e-3, 2e-3};
  else return {1.6e-2, 1.6e-2};
}

// ---- deterministic random numbers (xorshift64*) ------------------------------------
inline uint64_t g_rng = 0x9E3779B97F4A7C15ull;
inline uint64_t rng_next() {
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return g_rng * 0x2545F4914F6CDD1Dull;
}
inline float uniform(float lo, float hi) {
  return lo + (hi - lo) * static_cast<float>(static_cast<double>(rng_next() >> 11) / 9007199254740992.0);
}

// ---- guarded buffers -----------------------------------------------------------------
constexpr size_t kGuard = 67;  // odd, so a tile-sized overrun cannot skip the band

// Every live Buffer, so that on a device each op call can mirror them (see Mirror).
struct Mirrored;
inline std::vector<Mirrored*> g_buffers;
struct Mirrored {
  void* device = nullptr;
  size_t device_bytes = 0;
  Mirrored() { g_buffers.push_back(this); }
  Mirrored(const Mirrored&) : Mirrored() {}  // a copy gets its own device memory
  Mirrored& operator=(const Mirrored&) { return *this; }
  virtual ~Mirrored() {
    g_buffers.erase(std::find(g_buffers.begin(), g_buffers.end(), this));
#ifdef XCIT_TEST_ON_DEVICE
    if (device != nullptr) cudaFree(device);
#endif
  }
  virtual unsigned char* host_bytes() = 0;
  virtual size_t size_bytes() const = 0;
};

// Storage 64-byte aligned on the host (as cudaMalloc's 256 is on the device), so a
// Buffer's data() has the same alignment on both sides.
template <class T>
struct Aligned64 {
  using value_type = T;
  Aligned64() = default;
  template <class U>
  Aligned64(const Aligned64<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64})); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t{64}); }
  template <class U>
  bool operator==(const Aligned64<U>&) const { return true; }
};

// Where a Buffer's elements start: after kGuard NaNs (67 elements: 134 or 268 bytes, so
// NOT 16-byte aligned, which keeps the kernels' scalar paths under test), or, `aligned`,
// after enough NaNs to start 32-byte aligned as a session's activations do (the kernels'
// 16-byte vector paths).
enum class Start { guard, aligned };

// n elements of T with guard NaNs on each side; an op that writes outside [0, n)
// turns a guard into something else, which intact() reports.
template <class T>
struct Buffer : Mirrored {
  std::vector<T, Aligned64<T>> all;
  size_t lead, n;
  explicit Buffer(size_t count, Start start = Start::guard)
      : all(count + 3 * kGuard, from_f<T>(NAN)),
        lead(start == Start::guard ? kGuard : (kGuard * sizeof(T) + 31) / 32 * 32 / sizeof(T)),
        n(count) {}
  unsigned char* host_bytes() override { return reinterpret_cast<unsigned char*>(all.data()); }
  size_t size_bytes() const override { return all.size() * sizeof(T); }
  T* data() { return all.data() + lead; }
  const T* data() const { return all.data() + lead; }
  T& operator[](size_t i) { return data()[i]; }
  float get(size_t i) const { return to_f(data()[i]); }
  void set(size_t i, float v) { data()[i] = from_f<T>(v); }
  void fill_uniform(float lo, float hi) {
    for (size_t i = 0; i < n; ++i) set(i, uniform(lo, hi));
  }
  // What the kernel sees, widened: the reference's input.
  std::vector<double> values() const {
    std::vector<double> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = get(i);
    return v;
  }
  bool intact() const {
    for (size_t i = 0; i < all.size(); ++i) {
      if ((i < lead || i >= lead + n) && !std::isnan(to_f(all[i]))) return false;
    }
    return true;
  }
};

// Compares an op's output against the reference (CPU op or double); prints the worst
// element and a few mismatches on failure. `scale` see Tolerance.
template <class T>
bool expect_close(const std::string& what, const Buffer<T>& got, const std::vector<double>& want,
                  double scale) {
  ++g_cases;
  const Tolerance tol = tolerance<T>();
  double worst_abs = 0, worst_rel = 0;
  size_t worst = 0, bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double g = got.get(i), err = std::fabs(g - want[i]);
    const double rel = err / (tol.atol * scale + tol.rtol * std::fabs(want[i]));
    if (!(rel <= 1.0)) {  // NaN counts as a failure
      if (bad < 3) {
        std::fprintf(stderr, "  %s [%s] #%zu: got %.8g want %.8g\n", what.c_str(), type_name<T>(),
                     i, g, want[i]);
      }
      ++bad;
    }
    if (!(rel <= worst_rel)) {
      worst_rel = rel;
      worst_abs = err;
      worst = i;
    }
  }
  EXPECT(bad == 0, "%s [%s]: %zu of %zu outside tolerance; worst #%zu abs %.3g (%.2fx tol)",
         what.c_str(), type_name<T>(), bad, want.size(), worst, worst_abs, worst_rel);
  EXPECT(got.intact(), "%s [%s]: write outside the output (guard band changed)", what.c_str(),
         type_name<T>());
  return bad == 0;
}

inline double rms(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return v.empty() ? 1.0 : std::sqrt(s / static_cast<double>(v.size())) + 1e-30;
}

// ---- the CPU backend as the reference ---------------------------------------------------
// f32(b): what the kernel sees, widened to float: the CPU op's input.
template <class T>
std::vector<float> f32(const Buffer<T>& b) {
  std::vector<float> v(b.n);
  for (size_t i = 0; i < b.n; ++i) v[i] = b.get(i);
  return v;
}
inline std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }
// round_to<T>(v): v rounded to T and widened again (a reference for an op that stores
// an intermediate in T, e.g. the residual stream before the fused LayerNorm).
template <class T>
std::vector<float> round_to(std::vector<float> v) {
  for (float& x : v) x = to_f(from_f<T>(x));
  return v;
}

// ---- device mirroring (XCIT_TEST_ON_DEVICE) ----------------------------------------------
// dev(p): the device address of host pointer p if it lies in a Buffer (whole buffer,
// guards included, is mirrored), else p itself (NULL, stack scratch for error checks).
template <class P>
P* dev(P* p) {
#ifdef XCIT_TEST_ON_DEVICE
  auto* bytes = reinterpret_cast<unsigned char*>(const_cast<std::remove_cv_t<P>*>(p));
  for (Mirrored* m : g_buffers) {
    unsigned char* base = m->host_bytes();
    if (bytes >= base && bytes < base + m->size_bytes()) {
      return reinterpret_cast<P*>(static_cast<unsigned char*>(m->device) + (bytes - base));
    }
  }
#endif
  return p;
}

#ifdef XCIT_TEST_ON_DEVICE
inline void device_check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    std::fprintf(stderr, "%s failed: %s\n", what, cudaGetErrorString(err));
    std::exit(1);
  }
}
#endif

// Runs call() with every Buffer copied to the device before and back after (a no-op in
// the emulator, where ops work on host memory directly).
template <class F>
xcit_status mirrored(F call) {
#ifdef XCIT_TEST_ON_DEVICE
  for (Mirrored* m : g_buffers) {
    if (m->device_bytes != m->size_bytes()) {
      if (m->device != nullptr) cudaFree(m->device);
      device_check(cudaMalloc(&m->device, m->size_bytes()), "cudaMalloc");
      m->device_bytes = m->size_bytes();
    }
    device_check(cudaMemcpy(m->device, m->host_bytes(), m->size_bytes(), cudaMemcpyHostToDevice), "upload");
  }
  const xcit_status st = call();
  device_check(cudaDeviceSynchronize(), "kernel");
  for (Mirrored* m : g_buffers) {
    device_check(cudaMemcpy(m->host_bytes(), m->device, m->size_bytes(), cudaMemcpyDeviceToHost), "download");
  }
  return st;
#else
  return call();
#endif
}

// Exits 77 (ctest: skipped) in a device build on a machine without a usable GPU.
inline void require_device(const char* name) {
#ifdef XCIT_TEST_ON_DEVICE
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    std::printf("%s: SKIPPED, no CUDA device (%s)\n", name, err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
    std::exit(77);
  }
#else
  (void)name;
#endif
}

// ---- calling the typed entries ---------------------------------------------------------
inline float* abi(float* p) { return dev(p); }
inline const float* abi(const float* p) { return dev(p); }
inline void* abi(void* p) { return dev(p); }
inline uint16_t* abi(half* p) { return reinterpret_cast<uint16_t*>(dev(p)); }
inline const uint16_t* abi(const half* p) { return reinterpret_cast<const uint16_t*>(dev(p)); }
inline uint16_t* abi(bf16* p) { return reinterpret_cast<uint16_t*>(dev(p)); }
inline const uint16_t* abi(const bf16* p) { return reinterpret_cast<const uint16_t*>(dev(p)); }
template <class V>
V abi(V v) {
  return v;
}

// XCIT_EMU_OP(layernorm) defines emu_test::op::layernorm<T>(args...), which calls
// xcit_cuda_layernorm_f32/_f16/_bf16 for T = float/half/bf16 (mirrored on a device).
#define XCIT_EMU_OP(name)                                                                 \
  namespace op {                                                                          \
  template <class T, class... A>                                                          \
  xcit_status name(A... a) {                                                              \
    using ::emu_test::abi;                                                                \
    return ::emu_test::mirrored([&] {                                                     \
      if constexpr (std::is_same_v<T, float>) return xcit_cuda_##name##_f32(abi(a)...);  \
      else if constexpr (std::is_same_v<T, ::emu_test::half>)                             \
        return xcit_cuda_##name##_f16(abi(a)...);                                         \
      else return xcit_cuda_##name##_bf16(abi(a)...);                                     \
    });                                                                                   \
  }                                                                                       \
  }

struct Ctx {
  xcit_ctx* ctx = nullptr;
  Ctx() {
    if (xcit_ctx_create(&ctx) != XCIT_OK) {
      std::fprintf(stderr, "xcit_ctx_create failed\n");
      std::exit(2);
    }
  }
  ~Ctx() { xcit_ctx_destroy(ctx); }
  operator xcit_ctx*() const { return ctx; }
  const char* error() const { return xcit_ctx_last_error(ctx); }
};

// Also for the CPU reference ops: a reference that fails is a failed check, not a pass.
#define EXPECT_OK(ctx, call)                                                            \
  do {                                                                                  \
    const xcit_status st_ = (call);                                                     \
    EXPECT(st_ == XCIT_OK, "%s -> %s (%s)", #call, xcit_status_string(st_), (ctx).error()); \
  } while (0)

inline int summary(const char* name) {
#if defined(XCIT_TEST_ON_DEVICE) && !defined(XCIT_TEST_FAKE_DEVICE)
  std::printf("%s: %d case(s) on the GPU: %s\n", name, g_cases,
              g_failures == 0 ? "all checks passed" : "FAILED");
#else
  std::printf("%s: %d case(s), %llu emulated launch(es), %llu barrier arrival(s): %s\n", name,
              g_cases, static_cast<unsigned long long>(xcit_emu::launches()),
              static_cast<unsigned long long>(xcit_emu::barrier_arrivals()),
              g_failures == 0 ? "all checks passed" : "FAILED");
#endif
  if (g_failures != 0) std::printf("%s: %d check(s) failed\n", name, g_failures);
  return g_failures == 0 ? 0 : 1;
}

// Runs pass() as is and, in the emulator build (test_emu_<op>), once more with every grid
// dimension limited to one block: each launcher then launches a single block that walks
// its whole logical grid (src/cuda/grid.h), so the folding that huge shapes need on a
// device runs here on small shapes against the same references (a kernel that used
// blockIdx or gridDim for a logical index, or a launch over the limits, fails).
template <class F>
void with_folded_grids(F pass) {
  pass();
#ifndef XCIT_TEST_ON_DEVICE
  std::printf("again with every grid dimension limited to one block\n");
  const dim3 device = xcit_emu::grid_limits();
  xcit_emu::set_grid_limits(dim3(1, 1, 1));
  pass();
  xcit_emu::set_grid_limits(device);
#endif
}

// Runs f<float>, f<half>, f<bf16>.
template <template <class> class F, class... A>
void for_each_type(A... a) {
  F<float>::run(a...);
  F<half>::run(a...);
  F<bf16>::run(a...);
}

}  // namespace emu_test

#endif  // XCIT_EMU_TEST_H
