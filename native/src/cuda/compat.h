// What every kernel file includes instead of cuda_runtime.h: the CUDA runtime and its
// fp16/bf16 types under nvcc, the host emulator (cuda/emu) under g++. Kernel bodies are
// written once against this surface, so the code the tests run on the host is the code
// nvcc compiles for the device.
//
// Also here, because every op needs them: the storage types (xcit::f16, xcit::bf16),
// their conversions to and from fp32 (all arithmetic is fp32), and xcit_launch, the one
// place a kernel launch is spelled.
#ifndef XCIT_CUDA_COMPAT_H
#define XCIT_CUDA_COMPAT_H

#include <cstdint>

#ifdef __CUDACC__
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#else
#include "cuda/emu/cuda_emu.h"
#include "cuda/emu/half_emu.h"
#endif

namespace xcit {

#ifdef __CUDACC__
using f16 = __half;
using bf16 = __nv_bfloat16;
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
#else
using f16 = xcit_emu::half;
using bf16 = xcit_emu::bfloat16;
inline float to_float(xcit_emu::half v) { return xcit_emu::half_to_float(v); }
inline float to_float(xcit_emu::bfloat16 v) { return xcit_emu::bf16_to_float(v); }
#endif
__device__ __forceinline__ float to_float(float v) { return v; }

// from_float<T>(v): v rounded to nearest even in T.
template <class T>
struct Convert;
template <>
struct Convert<float> {
  static __device__ __forceinline__ float from(float v) { return v; }
};
template <>
struct Convert<f16> {
#ifdef __CUDACC__
  static __device__ __forceinline__ f16 from(float v) { return __float2half_rn(v); }
#else
  static f16 from(float v) { return xcit_emu::float_to_half(v); }
#endif
};
template <>
struct Convert<bf16> {
#ifdef __CUDACC__
  static __device__ __forceinline__ bf16 from(float v) { return __float2bfloat16_rn(v); }
#else
  static bf16 from(float v) { return xcit_emu::float_to_bf16(v); }
#endif
};
template <class T>
__device__ __forceinline__ T from_float(float v) {
  return Convert<T>::from(v);
}

// Exact (erf) GELU, the only form the spec accepts; erff is accurate to 2 ulp on device.
__device__ __forceinline__ float gelu(float x) {
  return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

__host__ __device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }
__host__ __device__ __forceinline__ int imax(int a, int b) { return a > b ? a : b; }
__host__ __device__ __forceinline__ int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace xcit

// Dynamic shared memory of a kernel as an array of `type` named `name`. One raw byte
// array under nvcc (extern __shared__ arrays of different types in different kernels of
// one file would clash), the emulator's per-block buffer on the host.
#ifdef __CUDACC__
#define XCIT_DYNAMIC_SHARED(type, name)                           \
  extern __shared__ __align__(16) unsigned char xcit_dynamic_smem_[]; \
  type* name = reinterpret_cast<type*>(xcit_dynamic_smem_)
#else
#define XCIT_DYNAMIC_SHARED(type, name) \
  type* name = reinterpret_cast<type*>(::xcit_emu::dynamic_shared())
#endif

// Launches kernel<<<grid, block, smem, stream>>>(args...) and returns the launch error
// (read at once, so a failed launch is reported by the op that made it). On the host the
// emulator runs the kernel at once, or, on the emulated device, on the stream's turn.
template <class... Params, class... Args>
inline cudaError_t xcit_launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                               cudaStream_t stream, Args... args) {
#ifdef __CUDACC__
  kernel<<<grid, block, smem, stream>>>(args...);
  return cudaGetLastError();
#else
  // Arguments by value: the emulated device's runtime may run the launch later (its
  // stream's turn) or again (a graph replay), as a device does.
  return ::xcit_emu::launch_on(stream, grid, block, smem, [=] { kernel(args...); });
#endif
}

#endif  // XCIT_CUDA_COMPAT_H
