// Launch grids of any size. A device takes at most 2^31 - 1 blocks in gridDim.x and 65535
// in gridDim.y and .z; a kernel's logical grid (the blocks its work divides into: row
// tiles, rows, heads x images, ...) may exceed that in any dimension at high resolution
// (xcit_small_12_p16 at 8192 x 8192: 16.8M stage-0 pixels = 262,144 GEMM row tiles).
//
// folded_grid() launches each dimension clamped to its limit, and the kernel walks its
// logical blocks with for_each_block(): launched block (bx, by, bz) takes the logical
// blocks (bx + i gridDim.x, by + j gridDim.y, bz + k gridDim.z), so each is visited
// exactly once and computed exactly as a block of its own would compute it (results are
// bit-identical to an unfolded launch). Where the logical grid fits, every block takes
// one logical block: the kernel runs as if the loop were not there.
//
// Block indices are int64 throughout; kernels derive element offsets from them in int64.
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

// The launch grid for a logical grid of x * y * z blocks (each >= 1).
inline dim3 folded_grid(int64_t x, int64_t y = 1, int64_t z = 1,
                        const GridLimits& limits = grid_limits()) {
  return dim3(static_cast<unsigned>(x < limits.x ? x : limits.x),
              static_cast<unsigned>(y < limits.y ? y : limits.y),
              static_cast<unsigned>(z < limits.z ? z : limits.z));
}

// Calls body(x, y, z) for each logical block of an nx * ny * nz grid that this launched
// block owns (see the top), with a __syncthreads() between two of them, so the body may
// use shared memory as a fresh block would. Every thread of a block takes the same
// logical blocks, so barriers inside the body stay uniform; a `return` in the body ends
// that logical block only. Must be called by every thread of the block.
template <class Body>
__device__ __forceinline__ void for_each_block(int64_t nx, int64_t ny, int64_t nz, Body&& body) {
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

}  // namespace xcit

#endif  // XCIT_CUDA_GRID_H
