/* 3x3 stride-2 convolution of the patch embedding (xcit.h): a direct kernel with a
 * register tile of P output pixels x OV vectors of output channels, and the im2col rows
 * for the GEMM path. Which one each stage uses is the caller's choice (measured in
 * CpuBackend); both read channel-last input. */
#if defined(XCIT_ISA)
#include "cpu/simd.h"

#if VLEN == 16
#define TILE_P 4
#define TILE_OV 4 /* 16 accumulators + 4 weights + 1 broadcast of 32 zmm */
#else
#define TILE_P 4
#define TILE_OV 2 /* 8 + 2 + 1 of 16 registers */
#endif

/* Padded input row: one zero pixel on the left, the row, zeros to cover the tile overrun. */
static inline int64_t padded_row_pixels(int64_t ow) {
  return 2 * ((ow + TILE_P - 1) / TILE_P * TILE_P) + 3;
}

/* acc[p][v] over (ky, kx, c) for pixels ox0..ox0+P-1 and channel vectors o0.., from the three
 * padded rows (NULL for a row outside the image); stores the pixels < ow. */
static inline __attribute__((always_inline)) void conv_tile(
    float* out_row, const float* const rows[3], const float* wp, const float* bias, int P,
    int OV, int64_t ox0, int64_t ow, int64_t o0, int64_t cin, int64_t cout, int64_t opad) {
  vf acc[TILE_P][TILE_OV];
  for (int v = 0; v < OV; ++v) {
    float b[VLEN];
    for (int l = 0; l < VLEN; ++l) b[l] = o0 + v * VLEN + l < cout ? bias[o0 + v * VLEN + l] : 0.0f;
    for (int p = 0; p < P; ++p) acc[p][v] = vload(b);
  }
  for (int ky = 0; ky < 3; ++ky) {
    if (rows[ky] == NULL) continue;
    for (int kx = 0; kx < 3; ++kx) {
      const float* w = wp + (int64_t)(ky * 3 + kx) * cin * opad + o0;
      const float* x = rows[ky] + (2 * ox0 + kx) * cin;
      for (int64_t c = 0; c < cin; ++c) {
        vf wv[TILE_OV];
        for (int v = 0; v < OV; ++v) wv[v] = vload(w + c * opad + v * VLEN);
        for (int p = 0; p < P; ++p) {
          const vf xv = vset1(x[2 * p * cin + c]);
          for (int v = 0; v < OV; ++v) acc[p][v] += xv * wv[v];
        }
      }
    }
  }
  for (int p = 0; p < P && ox0 + p < ow; ++p) {
    float* dst = out_row + (ox0 + p) * cout + o0;
    for (int v = 0; v < OV; ++v) {
      if (o0 + (v + 1) * VLEN <= cout) {
        vstore(dst + v * VLEN, acc[p][v]);
      } else {
        float tmp[VLEN];
        vstore(tmp, acc[p][v]);
        for (int l = 0; o0 + v * VLEN + l < cout; ++l) dst[v * VLEN + l] = tmp[l];
      }
    }
  }
}

void XCIT_KFN(conv3x3s2)(float* out, const float* in, const float* weight, const float* bias,
                         int64_t batch, int64_t height, int64_t width, int64_t cin, int64_t cout,
                         float* scratch, int threads) {
  const int64_t oh = (height + 1) / 2, ow = (width + 1) / 2, opad = xcit_pad(cout);
  const int64_t row_len = padded_row_pixels(ow) * cin;
  float* wp = scratch; /* (3, 3, cin, opad): output channels contiguous */
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static)
    for (int64_t o = 0; o < opad; ++o) {
      for (int64_t c = 0; c < cin; ++c) {
        for (int64_t k = 0; k < 9; ++k) {
          wp[(k * cin + c) * opad + o] = o < cout ? weight[(o * cin + c) * 9 + k] : 0.0f;
        }
      }
    }
    /* implicit barrier: wp complete */
    float* pad = scratch + 9 * cin * opad + (int64_t)xcit_tid() * 3 * row_len;
#pragma omp for schedule(static)
    for (int64_t by = 0; by < batch * oh; ++by) {
      const int64_t b = by / oh, oy = by % oh;
      const float* rows[3];
      for (int ky = 0; ky < 3; ++ky) {
        const int64_t iy = 2 * oy - 1 + ky;
        if (iy < 0 || iy >= height) {
          rows[ky] = NULL;
          continue;
        }
        float* r = pad + ky * row_len;
        memset(r, 0, (size_t)cin * sizeof(float));
        memcpy(r + cin, in + (b * height + iy) * width * cin, (size_t)(width * cin) * sizeof(float));
        memset(r + (width + 1) * cin, 0, (size_t)(row_len - (width + 1) * cin) * sizeof(float));
        rows[ky] = r;
      }
      float* out_row = out + by * ow * cout;
      for (int64_t ox = 0; ox < ow; ox += TILE_P) {
        int64_t o0 = 0;
        for (; o0 + TILE_OV * VLEN <= opad; o0 += TILE_OV * VLEN) {
          conv_tile(out_row, rows, wp, bias, TILE_P, TILE_OV, ox, ow, o0, cin, cout, opad);
        }
        for (; o0 < opad; o0 += VLEN) {
          conv_tile(out_row, rows, wp, bias, TILE_P, 1, ox, ow, o0, cin, cout, opad);
        }
      }
    }
  }
}

void XCIT_KFN(im2col3x3s2)(float* out, const float* in, int64_t height, int64_t width,
                           int64_t cin, int64_t row0, int64_t rows, int threads) {
  const int64_t ow = (width + 1) / 2, k = 9 * cin;
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * k >= 65536)
  for (int64_t m = 0; m < rows; ++m) {
    const int64_t oy = (row0 + m) / ow, ox = (row0 + m) % ow;
    float* dst = out + m * k;
    for (int ky = 0; ky < 3; ++ky) {
      const int64_t iy = 2 * oy - 1 + ky;
      for (int kx = 0; kx < 3; ++kx) {
        const int64_t ix = 2 * ox - 1 + kx;
        float* d = dst + (ky * 3 + kx) * cin;
        if (iy < 0 || iy >= height || ix < 0 || ix >= width) {
          memset(d, 0, (size_t)cin * sizeof(float));
        } else {
          memcpy(d, in + (iy * width + ix) * cin, (size_t)cin * sizeof(float));
        }
      }
    }
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_conv3x3s2_f32(xcit_ctx* ctx, float* out, const float* in, const float* weight,
                                   const float* bias, int64_t batch, int64_t height, int64_t width,
                                   int64_t cin, int64_t cout) {
  static const char* const OP = "xcit_cpu_conv3x3s2_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "in", in)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "weight", weight)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "bias", bias)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, batch, height + 1, width + 1, cin, cout)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, height, width)) != XCIT_OK) {
    return st;
  }
  if (batch == 0 || height == 0 || width == 0 || cout == 0) return XCIT_OK;
  const int threads = xcit_cpu_threads_of(ctx);
  /* Must match the kernel: packed weight, then 3 padded rows per thread (the row length
   * bound uses the smallest tile, 1 pixel, so it covers every ISA's TILE_P <= 8). */
  const int64_t ow = (width + 1) / 2;
  const int64_t row_len = (2 * ((ow + 7) / 8 * 8) + 3) * cin;
  const int64_t floats = 9 * cin * xcit_pad(cout) + (int64_t)threads * 3 * row_len;
  float* scratch = xcit_cpu_scratch(ctx, OP, floats * (int64_t)sizeof(float));
  if (scratch == NULL) return XCIT_ERR_OUT_OF_MEMORY;
  xcit_cpu_k(ctx)->conv3x3s2(out, in, weight, bias, batch, height, width, cin, cout, scratch,
                             threads);
  return XCIT_OK;
}

xcit_status xcit_cpu_im2col3x3s2_f32(xcit_ctx* ctx, float* out, const float* in, int64_t height,
                                     int64_t width, int64_t cin, int64_t row0, int64_t rows) {
  static const char* const OP = "xcit_cpu_im2col3x3s2_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "in", in)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, height, width, cin, 9)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, row0, rows)) != XCIT_OK ||
      (st = xcit_require(ctx, row0 + rows <= ((height + 1) / 2) * ((width + 1) / 2), OP,
                         "row0 + rows exceeds the output pixels ceil(H/2)*ceil(W/2)")) != XCIT_OK) {
    return st;
  }
  xcit_cpu_k(ctx)->im2col3x3s2(out, in, height, width, cin, row0, rows, xcit_cpu_threads_of(ctx));
  return XCIT_OK;
}
#endif
