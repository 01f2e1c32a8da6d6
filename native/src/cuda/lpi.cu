// Local patch interaction (Backend.lpi / lpiAddScaled, xcit_cuda.h), fused, for
// fp32/fp16/bf16: depthwise conv3x3 -> GELU -> BatchNorm affine -> depthwise conv3x3,
// channel-last, and with gamma the block's residual update out += gamma * LPI(in) as the
// epilogue (one pass over out instead of a second kernel reading LPI's output back). The
// CPU reference is xcit_cpu_lpi_f32, which takes the same gamma.
//
// One logical block per (8 x 8 output pixels, 32 channels, image), folded into the launch
// limits (grid.h). The block stages the input tile with a 2-pixel halo (12 x 12) and
// computes the intermediate with a 1-pixel halo (10 x 10) in shared memory, so the
// intermediate never goes to global memory and the input is read once (plus the halo).
// Intermediate pixels outside the image are 0: the spec's zero padding applies to the
// BatchNorm's output, which is why the BatchNorm cannot be folded into conv2 (wrong at
// the borders). Depthwise: no reduction over channels, so every output is one fp32 sum
// of 9 products; nothing to make deterministic. For the convolutions a thread owns one
// channel of the chunk (32 lanes = 32 consecutive channels) and runs down columns of the
// tile (conv3x3_column: each shared row loaded once). Loads and stores are 16-byte vectors
// (vec.h: kVec<T> channels of a pixel per access) when C is a multiple of 32 and in, out
// are 16-byte aligned, which makes every pixel's chunk an aligned run of 64 (16-bit) or
// 128 bytes; otherwise one channel per access (coalesced all the same: a warp reads a
// pixel's 32 consecutive channels).
#include "cuda/cuda_check.h"
#include "cuda/grid.h"
#include "cuda/vec.h"
#include "xcit/xcit_cuda.h"

namespace {

constexpr int kTile = 8;
constexpr int kChannels = 32;
constexpr int kThreads = 256;
constexpr int kRows = kThreads / kChannels;  // thread rows (threadIdx.x / kChannels)
constexpr int kIn = kTile + 4;               // input tile side (halo 2)
constexpr int kMid = kTile + 2;              // intermediate tile side (halo 1)

constexpr int kMidRun = kMid / 2;            // intermediate rows per thread and column
static_assert(kRows == kTile, "a thread per output column");
static_assert(2 * kMidRun == kMid, "two runs per intermediate column");

// out(i, sum) for i < N: the depthwise 3 x 3 window sums bias + sum_{ky, kx} src[(y0 + i +
// ky) ld + x + kx][lane] w[3 ky + kx] down one column of a shared tile, in that order, a
// fmaf each. The window slides: each source row is loaded once, 3 shared loads per output
// instead of 9 (shared-memory loads, one per FMA before, bounded the kernel: ~69 us a
// launch at batch 256 by that count, against ~27 us of bytes; docs/gpu-performance.md).
template <int N, class Out>
__device__ __forceinline__ void conv3x3_column(const float (*src)[kChannels], int ld, int y0, int x, int lane,
                                               const float (&w)[9], float bias, Out&& out) {
  float above[3], here[3];
  for (int kx = 0; kx < 3; ++kx) {
    above[kx] = src[y0 * ld + x + kx][lane];
    here[kx] = src[(y0 + 1) * ld + x + kx][lane];
  }
  for (int i = 0; i < N; ++i) {
    float below[3];
    for (int kx = 0; kx < 3; ++kx) below[kx] = src[(y0 + i + 2) * ld + x + kx][lane];
    float acc = bias;
    for (int kx = 0; kx < 3; ++kx) acc = fmaf(above[kx], w[kx], acc);
    for (int kx = 0; kx < 3; ++kx) acc = fmaf(here[kx], w[3 + kx], acc);
    for (int kx = 0; kx < 3; ++kx) acc = fmaf(below[kx], w[6 + kx], acc);
    out(i, acc);
    for (int kx = 0; kx < 3; ++kx) {
      above[kx] = here[kx];
      here[kx] = below[kx];
    }
  }
}

struct Grid {
  int64_t h, w, c, tiles_x;
  int64_t tiles, chunks, batch;  // the logical grid
};

template <class T, bool Folded, bool Vec>
__global__ void __launch_bounds__(kThreads)
    lpi_kernel(T* out, const T* in, const T* weight1, const T* bias1, const T* bn_scale,
               const T* bn_shift, const T* weight2, const T* bias2, const T* gamma, Grid g) {
  // xs is the input tile, and with Vec afterwards the (kTile * kTile, kChannels) results.
  __shared__ float xs[kIn * kIn][kChannels];
  __shared__ float mid[kMid * kMid][kChannels];
  constexpr int kGroups = kChannels / xcit::kVec<T>;  // vectors per pixel and chunk
  // int only within the tile (p < 144, lane < 32, row < 8); pixel, channel and element
  // indices are int64.
  const int lane = threadIdx.x % kChannels, row = threadIdx.x / kChannels;
  xcit::for_each_block<Folded>(g.tiles, g.chunks, g.batch,
                               [&](int64_t tile, int64_t chunk, int64_t b) {
    const int64_t y0 = (tile / g.tiles_x) * kTile, x0 = (tile % g.tiles_x) * kTile;
    const int64_t ch = chunk * kChannels + lane;
    const bool live = ch < g.c;  // the last chunk may be partial (never with Vec)
    const int64_t image = b * g.h * g.w * g.c;

    // 1. Input tile with halo 2; zero outside the image (conv1's padding).
    if constexpr (Vec) {
      for (int e = threadIdx.x; e < kIn * kIn * kGroups; e += kThreads) {
        const int p = e / kGroups, v0 = (e % kGroups) * xcit::kVec<T>;
        const int64_t y = y0 - 2 + p / kIn, x = x0 - 2 + p % kIn;
        float v[xcit::kVec<T>] = {};
        if (y >= 0 && y < g.h && x >= 0 && x < g.w) {
          xcit::load_vec(in + image + (y * g.w + x) * g.c + chunk * kChannels + v0, v);
        }
        for (int i = 0; i < xcit::kVec<T>; ++i) xs[p][v0 + i] = v[i];
      }
    } else {
      for (int p = row; p < kIn * kIn; p += kRows) {
        const int64_t y = y0 - 2 + p / kIn, x = x0 - 2 + p % kIn;
        const bool inside = live && y >= 0 && y < g.h && x >= 0 && x < g.w;
        xs[p][lane] = inside ? xcit::to_float(in[image + (y * g.w + x) * g.c + ch]) : 0.0f;
      }
    }
    float w1[9], w2[9];
    for (int k = 0; k < 9; ++k) {
      w1[k] = live ? xcit::to_float(weight1[ch * 9 + k]) : 0.0f;
      w2[k] = live ? xcit::to_float(weight2[ch * 9 + k]) : 0.0f;
    }
    const float b1 = live ? xcit::to_float(bias1[ch]) : 0.0f;
    const float b2 = live ? xcit::to_float(bias2[ch]) : 0.0f;
    const float scale = live ? xcit::to_float(bn_scale[ch]) : 0.0f;
    const float shift = live ? xcit::to_float(bn_shift[ch]) : 0.0f;
    __syncthreads();

    // 2. Intermediate with halo 1: BN(GELU(conv1)) inside the image, 0 outside; a thread
    //    takes half a column (kMidRun rows) at a time, 2 kMid of them.
    for (int item = row; item < 2 * kMid; item += kRows) {
      const int mx = item % kMid, my0 = (item / kMid) * kMidRun;
      const int64_t x = x0 - 1 + mx;
      conv3x3_column<kMidRun>(xs, kIn, my0, mx, lane, w1, b1, [&](int i, float acc) {
        const int64_t y = y0 - 1 + my0 + i;
        const bool inside = y >= 0 && y < g.h && x >= 0 && x < g.w;  // warp-uniform
        mid[(my0 + i) * kMid + mx][lane] = inside ? fmaf(xcit::gelu(acc), scale, shift) : 0.0f;
      });
    }
    __syncthreads();

    // 3. conv2 over the intermediate, then the store (out = r) or the residual update
    //    (out += gamma r, fp32 sum, one rounding) of the pixels that exist.
    if (!Vec && !live) return;  // ends this logical block only (grid.h)
    //    A thread takes output column `row` (kRows == kTile), all kTile rows of it.
    const int ox = row;
    const int64_t x = x0 + ox;
    conv3x3_column<kTile>(mid, kMid, 0, ox, lane, w2, b2, [&](int oy, float acc) {
      const int64_t y = y0 + oy;
      if (y >= g.h || x >= g.w) return;
      if constexpr (Vec) {
        xs[oy * kTile + ox][lane] = acc;  // the input tile is dead since the barrier above
      } else {
        T& dst = out[image + (y * g.w + x) * g.c + ch];
        dst = xcit::from_float<T>(gamma != nullptr ? xcit::to_float(dst) + xcit::to_float(gamma[ch]) * acc : acc);
      }
    });
    if constexpr (Vec) {
      __syncthreads();
      for (int e = threadIdx.x; e < kTile * kTile * kGroups; e += kThreads) {
        const int p = e / kGroups, v0 = (e % kGroups) * xcit::kVec<T>;
        const int64_t y = y0 + p / kTile, x = x0 + p % kTile;
        if (y >= g.h || x >= g.w) continue;
        const int64_t c0 = chunk * kChannels + v0;
        T* dst = out + image + (y * g.w + x) * g.c + c0;
        float r[xcit::kVec<T>];
        if (gamma != nullptr) {
          xcit::load_vec(dst, r);
          for (int i = 0; i < xcit::kVec<T>; ++i) r[i] += xcit::to_float(gamma[c0 + i]) * xs[p][v0 + i];
        } else {
          for (int i = 0; i < xcit::kVec<T>; ++i) r[i] = xs[p][v0 + i];
        }
        xcit::store_vec(dst, r);
      }
    }
  });
}

template <class T, class S>
xcit_status lpi_entry(const char* op, xcit_ctx* ctx, S* out, const S* in, const S* weight1,
                      const S* bias1, const S* bn_scale, const S* bn_shift, const S* weight2,
                      const S* bias2, const S* gamma, int64_t batch, int64_t grid_h,
                      int64_t grid_w, int64_t channels) {
  xcit_status st;
  const void* required[] = {out, in, weight1, bias1, bn_scale, bn_shift, weight2, bias2};
  const char* names[] = {"out", "in", "weight1", "bias1", "bn_scale", "bn_shift", "weight2", "bias2"};
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK) return st;
  for (int i = 0; i < 8; ++i) {
    if ((st = xcit_check_ptr(ctx, op, names[i], required[i])) != XCIT_OK) return st;
  }
  if ((st = xcit_check_matrix(ctx, op, grid_h, grid_w)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch, grid_h * grid_w)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * grid_h * grid_w, channels)) != XCIT_OK) {
    return st;
  }
  if (out == in) {
    return xcit_fail(ctx, XCIT_ERR_INVALID_ARGUMENT, "%s: out aliases in (tiles read halos)", op);
  }
  const int64_t tiles = xcit::ceil_div(grid_h, kTile) * xcit::ceil_div(grid_w, kTile);
  const int64_t chunks = xcit::ceil_div(channels, kChannels);
  if (batch * tiles * chunks == 0) return XCIT_OK;
  const Grid g{grid_h, grid_w, channels, xcit::ceil_div(grid_w, kTile), tiles, chunks, batch};
  const xcit::LaunchGrid launch = xcit::launch_grid(tiles, chunks, batch);
  // Vectors need whole 32-channel chunks and aligned pixels (vec.h's rule with cols = C).
  const bool vec = channels % kChannels == 0 && xcit::vector_rows<T>(channels, {in, out});
  auto kernel = launch.folded ? (vec ? lpi_kernel<T, true, true> : lpi_kernel<T, true, false>)
                              : (vec ? lpi_kernel<T, false, true> : lpi_kernel<T, false, false>);
  return xcit_cuda_launched(
      ctx, op,
      xcit_launch(kernel, launch.dims, dim3(kThreads), 0, xcit_cuda_stream(ctx),
                  reinterpret_cast<T*>(out), reinterpret_cast<const T*>(in),
                  reinterpret_cast<const T*>(weight1), reinterpret_cast<const T*>(bias1),
                  reinterpret_cast<const T*>(bn_scale), reinterpret_cast<const T*>(bn_shift),
                  reinterpret_cast<const T*>(weight2), reinterpret_cast<const T*>(bias2),
                  reinterpret_cast<const T*>(gamma), g));
}

}  // namespace

xcit_status xcit_cuda_lpi_f32(xcit_ctx* ctx, float* out, const float* in, const float* weight1,
                              const float* bias1, const float* bn_scale, const float* bn_shift,
                              const float* weight2, const float* bias2, const float* gamma,
                              int64_t batch, int64_t grid_h, int64_t grid_w, int64_t channels) {
  return lpi_entry<float>("xcit_cuda_lpi_f32", ctx, out, in, weight1, bias1, bn_scale, bn_shift,
                          weight2, bias2, gamma, batch, grid_h, grid_w, channels);
}
xcit_status xcit_cuda_lpi_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                              const uint16_t* weight1, const uint16_t* bias1,
                              const uint16_t* bn_scale, const uint16_t* bn_shift,
                              const uint16_t* weight2, const uint16_t* bias2,
                              const uint16_t* gamma, int64_t batch, int64_t grid_h, int64_t grid_w,
                              int64_t channels) {
  return lpi_entry<xcit::f16>("xcit_cuda_lpi_f16", ctx, out, in, weight1, bias1, bn_scale,
                              bn_shift, weight2, bias2, gamma, batch, grid_h, grid_w, channels);
}
xcit_status xcit_cuda_lpi_bf16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                               const uint16_t* weight1, const uint16_t* bias1,
                               const uint16_t* bn_scale, const uint16_t* bn_shift,
                               const uint16_t* weight2, const uint16_t* bias2,
                               const uint16_t* gamma, int64_t batch, int64_t grid_h,
                               int64_t grid_w, int64_t channels) {
  return lpi_entry<xcit::bf16>("xcit_cuda_lpi_bf16", ctx, out, in, weight1, bias1, bn_scale,
                               bn_shift, weight2, bias2, gamma, batch, grid_h, grid_w, channels);
}
