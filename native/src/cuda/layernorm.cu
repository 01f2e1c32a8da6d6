// LayerNorm over the last dimension on the GPU, fp32 (xcit_cuda.h).
// kernel -> launch -> exported entry; the CPU reference is src/cpu/layernorm.c.
#include <climits>

#include "cuda/cuda_check.h"
#include "xcit/xcit_cuda.h"

static const char* const OP = "xcit_cuda_layernorm_f32";

// 256 threads keep a 384-wide row (XCiT-S/M) to 1.5 elements per thread while staying
// small enough for many resident blocks; narrower rows use fewer warps (see launch).
static constexpr int kMaxThreads = 256;
static constexpr int kWarpSize = 32;

// Sum of v over the 32 lanes of a warp; every lane receives the total.
static __device__ __forceinline__ float warp_sum(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) {
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  }
  return v;
}

// Sum of v over the block; every thread receives the total. blockDim.x is a multiple
// of 32 and at most 1024. scratch: 33 floats of shared memory, 32 per-warp partials
// plus a broadcast slot; the separate slot lets two calls follow each other without
// a third barrier (the partials of call 2 are written after every thread has passed
// call 1's last barrier, and the slot is only rewritten after call 2's first one).
static __device__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  v = warp_sum(v);
  if (lane == 0) {
    scratch[warp] = v;
  }
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x / kWarpSize;
    v = warp_sum(lane < warps ? scratch[lane] : 0.0f);
    if (lane == 0) {
      scratch[kWarpSize] = v;
    }
  }
  __syncthreads();
  return scratch[kWarpSize];
}

// One block per row r of `cols` floats: mean, then the mean squared deviation from it
// (two passes, no E[x^2] - E[x]^2 cancellation), then the affine step. Rows are read
// up to three times; they are small (cols ~ 100s) and stay in L1/L2.
// In-place (out == in) is safe: both reductions end with a barrier before any write,
// and each thread writes only the elements it reads in the last loop.
static __global__ void __launch_bounds__(kMaxThreads)
    layernorm_kernel(float* out, const float* in, const float* gamma, const float* beta,
                     int64_t cols, float eps) {
  __shared__ float scratch[kWarpSize + 1];
  const int64_t offset = static_cast<int64_t>(blockIdx.x) * cols;
  const float* x = in + offset;
  float* y = out + offset;

  float sum = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    sum += x[c];
  }
  const float mean = block_sum(sum, scratch) / static_cast<float>(cols);

  float squares = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const float d = x[c] - mean;
    squares += d * d;
  }
  const float rstd = rsqrtf(block_sum(squares, scratch) / static_cast<float>(cols) + eps);

  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    y[c] = (x[c] - mean) * rstd * gamma[c] + beta[c];
  }
}

// rows in [1, INT_MAX], cols >= 1: as many whole warps as the row needs, up to
// kMaxThreads. Launch errors (including "no driver") are read back at once.
static xcit_status layernorm_launch(xcit_ctx* ctx, float* out, const float* in,
                                    const float* gamma, const float* beta, int64_t rows,
                                    int64_t cols, float eps) {
  const int64_t warps = (cols + kWarpSize - 1) / kWarpSize;
  const int threads = static_cast<int>(warps * kWarpSize < kMaxThreads ? warps * kWarpSize
                                                                       : kMaxThreads);
  layernorm_kernel<<<static_cast<unsigned int>(rows), threads>>>(out, in, gamma, beta, cols,
                                                                 eps);
  const cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? XCIT_OK : xcit_cuda_fail(ctx, OP, "kernel launch", err);
}

xcit_status xcit_cuda_layernorm_f32(xcit_ctx* ctx, float* out, const float* in,
                                    const float* gamma, const float* beta, int64_t rows,
                                    int64_t cols, float eps) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "in", in)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "gamma", gamma)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "beta", beta)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, OP, rows, cols)) != XCIT_OK ||
      (st = xcit_check_eps(ctx, OP, eps)) != XCIT_OK) {
    return st;
  }
  if (rows > INT_MAX) {  // gridDim.x limit; a 2-D grid is not worth it for XCiT
    return xcit_fail(ctx, XCIT_ERR_UNSUPPORTED, "%s: rows = %lld exceeds %d (one block per row)",
                     OP, static_cast<long long>(rows), INT_MAX);
  }
  if (rows == 0) {
    return XCIT_OK;
  }
  return layernorm_launch(ctx, out, in, gamma, beta, rows, cols, eps);
}
