// Launch grids of any size. A device takes at most 2^31 - 1 blocks in gridDim.x and 65535
// in gridDim.y and .z; a kernel's logical grid (the blocks its work divides into: row
// tiles, rows, heads x images, ...) may exceed that in any dimension at high resolution
// (xcit_small_12_p16 at 8192 x 8192: 16.8M stage-0 pixels = 262,144 GEMM row tiles).
//
// launch_grid() clamps each dimension to its limit and says whether that folded any.
// Kernels are templates on `Folded` and the launcher picks the instantiation:
// for_each_block<false> is the plain kernel (one logical block per launched block, the
// indices read from blockIdx: the code, registers and occupancy of an unfolded kernel),
// for_each_block<true> walks the logical grid: launched block (bx, by, bz) takes the
// logical blocks (bx + i gridDim.x, by + j gridDim.y, bz + k gridDim.z), each visited
// exactly once. Either way each logical block computes exactly what a block of its own
// would, so results are bit-identical.
//
// Logical block indices are int64; kernels derive element offsets from them in int64.
#ifndef XCIT_CUDA_GRID_H
#define XCIT_CUDA_GRID_H

#include "cuda/compat.h"

namespace xcit {

struct GridLimits {
  int64_t x, y, z;
};
// Every CUDA device since compute capability 3.0.
constexpr GridLimits kDeviceGridLimits{0x7fffffff, 65535, 65535};

// The limits launches are sized for: the device's under nvcc; under the emulator the
// ones it enforces, which a test lowers to run every folding path on small shapes.
inline GridLimits grid_limits() {
#ifdef __CUDACC__
  return kDeviceGridLimits;
#else
  const dim3 l = ::xcit_emu::grid_limits();
  return {l.x, l.y, l.z};
#endif
}

// The launch for a logical grid of x * y * z blocks (each >= 1).
struct LaunchGrid {
  dim3 dims;    // each dimension min(logical, limit)
  bool folded;  // some dimension was clamped: launch the Folded = true kernel
};
inline LaunchGrid launch_grid(int64_t x, int64_t y = 1, int64_t z = 1,
                              const GridLimits& limits = grid_limits()) {
  const bool folded = x > limits.x || y > limits.y || z > limits.z;
  return {dim3(static_cast<unsigned>(x < limits.x ? x : limits.x),
               static_cast<unsigned>(y < limits.y ? y : limits.y),
               static_cast<unsigned>(z < limits.z ? z : limits.z)),
          folded};
}

// Calls body(x, y, z) for each logical block of an nx * ny * nz grid that this launched
// block owns: with Folded = false the one at blockIdx (the launch is the logical grid),
// with Folded = true every one it takes (see the top), with a __syncthreads() between
// two of them, so the body may use shared memory as a fresh block would. Every thread of
// a block takes the same logical blocks, so barriers inside the body stay uniform; a
// `return` in the body ends that logical block only. Call from every thread.
template <bool Folded, class Body>
__device__ __forceinline__ void for_each_block(int64_t nx, int64_t ny, int64_t nz, Body&& body) {
  if constexpr (!Folded) {
    (void)nx, (void)ny, (void)nz;
    body(static_cast<int64_t>(blockIdx.x), static_cast<int64_t>(blockIdx.y),
         static_cast<int64_t>(blockIdx.z));
  } else {
    bool first = true;
    for (int64_t z = blockIdx.z; z < nz; z += gridDim.z) {
      for (int64_t y = blockIdx.y; y < ny; y += gridDim.y) {
        for (int64_t x = blockIdx.x; x < nx; x += gridDim.x) {
          if (!first) __syncthreads();  // the previous logical block's shared reads are done
          first = false;
          body(x, y, z);
        }
      }
    }
  }
}

}  // namespace xcit

#endif  // XCIT_CUDA_GRID_H
