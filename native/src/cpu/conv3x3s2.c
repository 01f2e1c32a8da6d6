/* 3x3 stride-2 convolution of the patch embedding (xcit.h): a direct kernel, and the im2col
 * rows for the GEMM path. Which one a stage uses is the caller's choice (CpuBackend: direct
 * for Cin = 3, whose K = 27 is too short for a GEMM to run well). Both compute any band of
 * output rows, so the patch embedding can run band by band; the direct kernel also reads
 * channel-first input, so the first stage reads the caller's image in place. */
#if defined(XCIT_ISA)
#include "cpu/simd.h"

/* Register tile: P output pixels x OV vectors of output channels = P * OV accumulators, plus
 * OV weight vectors and one broadcast input. A tile covers every output channel when they
 * fit (Cout 48 = 3 zmm: 8 pixels x 3 vectors = 24 accumulators + 3 + 1 of 32 registers), so
 * each input value is broadcast once, and 24 independent FMA chains hide the FMA latency. */
#if VLEN == 16
#define OV_MAX 4
#define ACC_REGS 24
#else
#define OV_MAX 2
#define ACC_REGS 12 /* of 16 registers: 12 + 2 + 1 */
#endif
#define P_MAX 8

/* Output pixels ox0 .. ox0+P-1 of one row for the channel vectors at wp / bias (already
 * offset to the tile's first channel, `left` channels from there to Cout): every tap
 * (ky, kx) of rows[ky] (NULL: a row outside the image). Without `edge` each column
 * 2*ox-1+kx lies inside the image, so the input is read in place; an edge tile (P = 1)
 * skips the columns outside (the zero padding). dst is the tile's first output.
 * Input pixel ix, channel c of a row is at row[ix * Cin + c] channel-last, at
 * row[ix + c * plane] channel-first (`planar`, the input image as given). */
static inline __attribute__((always_inline)) void conv_tile(
    float* dst, const float* const rows[3], int64_t ox0, const float* wp, const float* bias,
    const int P, const int OV, const int edge, const int planar, int64_t width, int64_t plane,
    int64_t cin, int64_t cout, int64_t opad, int64_t left) {
  vf acc[P_MAX][OV_MAX];
  for (int v = 0; v < OV; ++v) {
    const vf b = vload(bias + v * VLEN);
    for (int p = 0; p < P; ++p) acc[p][v] = b;
  }
  for (int ky = 0; ky < 3; ++ky) {
    if (rows[ky] == NULL) continue;
    for (int kx = 0; kx < 3; ++kx) {
      const int64_t ix = 2 * ox0 - 1 + kx;
      if (edge && (ix < 0 || ix >= width)) continue;
      const float* x = rows[ky] + (planar ? ix : ix * cin);
      const float* w = wp + (int64_t)(ky * 3 + kx) * cin * opad;
      for (int64_t c = 0; c < cin; ++c) {
        vf wv[OV_MAX];
        for (int v = 0; v < OV; ++v) wv[v] = vload(w + c * opad + v * VLEN);
        for (int p = 0; p < P; ++p) {
          const vf xv = vset1(planar ? x[c * plane + 2 * p] : x[2 * p * cin + c]);
          for (int v = 0; v < OV; ++v) acc[p][v] += xv * wv[v];
        }
      }
    }
  }
  for (int p = 0; p < P; ++p) {
    float* d = dst + p * cout;
    for (int v = 0; v < OV; ++v) {
      if ((v + 1) * VLEN <= left) {
        vstore(d + v * VLEN, acc[p][v]);
      } else {
        float tmp[VLEN];
        vstore(tmp, acc[p][v]);
        for (int l = 0; v * VLEN + l < left; ++l) d[v * VLEN + l] = tmp[l];
      }
    }
  }
}

/* One output row for the OV channel vectors from o0: the left edge pixel, the interior in
 * tiles of P (the last one shifted left to end at the interior's end, recomputing a few
 * pixels rather than running a slow remainder), then the right edge pixel (odd widths). */
static inline __attribute__((always_inline)) void conv_row(
    float* out_row, const float* const rows[3], const float* wp, const float* bias, const int OV,
    const int planar, int64_t o0, int64_t width, int64_t plane, int64_t cin, int64_t cout,
    int64_t opad) {
  const int P = ACC_REGS / OV < P_MAX ? ACC_REGS / OV : P_MAX;
  const int64_t ow = (width + 1) / 2, left = cout - o0;
  const float *w = wp + o0, *b = bias + o0;
  float* dst = out_row + o0;
  /* Interior: 1 <= ox < width / 2, where 2*ox - 1 >= 0 and 2*ox + 1 <= width - 1. */
  const int64_t hi = width / 2 > 1 ? width / 2 : 1;
  conv_tile(dst, rows, 0, w, b, 1, OV, 1, planar, width, plane, cin, cout, opad, left);
  if (hi - 1 >= P) {
    int64_t ox = 1;
    for (; ox + P <= hi; ox += P) {
      conv_tile(dst + ox * cout, rows, ox, w, b, P, OV, 0, planar, width, plane, cin, cout, opad, left);
    }
    if (ox < hi) {
      conv_tile(dst + (hi - P) * cout, rows, hi - P, w, b, P, OV, 0, planar, width, plane, cin, cout, opad, left);
    }
  } else {
    for (int64_t ox = 1; ox < hi; ++ox) {
      conv_tile(dst + ox * cout, rows, ox, w, b, 1, OV, 0, planar, width, plane, cin, cout, opad, left);
    }
  }
  for (int64_t ox = hi; ox < ow; ++ox) {
    conv_tile(dst + ox * cout, rows, ox, w, b, 1, OV, 1, planar, width, plane, cin, cout, opad, left);
  }
}

/* One output row, every channel block: OV_MAX vectors at a time, then the remainder. */
static inline __attribute__((always_inline)) void conv_row_all(
    float* out_row, const float* const rows[3], const float* wp, const float* bias,
    const int planar, int64_t width, int64_t plane, int64_t cin, int64_t cout, int64_t opad) {
  int64_t o0 = 0;
  for (; o0 + OV_MAX * VLEN <= opad; o0 += OV_MAX * VLEN) {
    conv_row(out_row, rows, wp, bias, OV_MAX, planar, o0, width, plane, cin, cout, opad);
  }
  /* opad is a multiple of 16 floats: a remainder exists only for VLEN 16 (1-3 vectors). */
#if OV_MAX == 4
  switch ((opad - o0) / VLEN) {
    case 3: conv_row(out_row, rows, wp, bias, 3, planar, o0, width, plane, cin, cout, opad); break;
    case 2: conv_row(out_row, rows, wp, bias, 2, planar, o0, width, plane, cin, cout, opad); break;
    case 1: conv_row(out_row, rows, wp, bias, 1, planar, o0, width, plane, cin, cout, opad); break;
    default: break;
  }
#endif
}

void XCIT_KFN(conv3x3s2)(float* out, const float* in, const float* weight, const float* bias,
                         int64_t batch, int64_t height, int64_t width, int64_t cin, int64_t cout,
                         int64_t first_row, int64_t out_rows, int32_t flags, float* scratch,
                         int threads) {
  const int64_t ow = (width + 1) / 2, opad = xcit_pad(cout), plane = height * width;
  const int planar = (flags & XCIT_CONV_CHANNELS_FIRST) != 0, gelu = (flags & XCIT_CONV_GELU) != 0;
  float* wp = scratch;                  /* (3, 3, cin, opad): output channels contiguous */
  float* bp = scratch + 9 * cin * opad; /* (opad): the bias, zero past cout */
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static)
    for (int64_t o = 0; o < opad; ++o) {
      for (int64_t c = 0; c < cin; ++c) {
        for (int64_t k = 0; k < 9; ++k) {
          wp[(k * cin + c) * opad + o] = o < cout ? weight[(o * cin + c) * 9 + k] : 0.0f;
        }
      }
      bp[o] = o < cout ? bias[o] : 0.0f;
    }
    /* implicit barrier: wp and bp complete */
#pragma omp for schedule(static)
    for (int64_t br = 0; br < batch * out_rows; ++br) {
      const int64_t b = br / out_rows, oy = first_row + br % out_rows;
      const float* image = in + b * plane * cin;
      const float* rows[3];
      for (int ky = 0; ky < 3; ++ky) {
        const int64_t iy = 2 * oy - 1 + ky;
        rows[ky] = iy < 0 || iy >= height ? NULL : image + iy * width * (planar ? 1 : cin);
      }
      float* out_row = out + br * ow * cout;
      if (planar) {
        conv_row_all(out_row, rows, wp, bp, 1, width, plane, cin, cout, opad);
      } else {
        conv_row_all(out_row, rows, wp, bp, 0, width, plane, cin, cout, opad);
      }
      /* GELU on the row just written, still in cache: a pass of its own over the whole
       * output would read and write it from memory again. (Applied to the accumulators
       * before the store it is slower: 24 long dependent chains at the tile's end.) */
      if (gelu) gelu_span(out_row, ow * cout);
    }
  }
}

/* n floats from src to dst in whole vectors, then the tail: inline, since a memcpy call per
 * tap (a few hundred bytes) costs about as much as the copy. */
static inline void copy_floats(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
  for (; i + VLEN <= n; i += VLEN) vstore(dst + i, vload(src + i));
  for (; i < n; ++i) dst[i] = src[i];
}

void XCIT_KFN(im2col3x3s2)(float* out, const float* in, int64_t height, int64_t width,
                           int64_t cin, int64_t row0, int64_t rows, int threads) {
  const int64_t ow = (width + 1) / 2, k = 9 * cin;
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * k >= 65536)
  for (int64_t m = 0; m < rows; ++m) {
    const int64_t oy = (row0 + m) / ow, ox = (row0 + m) % ow, ix0 = 2 * ox - 1;
    float* dst = out + m * k;
    for (int ky = 0; ky < 3; ++ky) {
      const int64_t iy = 2 * oy - 1 + ky;
      float* d = dst + ky * 3 * cin;
      if (iy < 0 || iy >= height) {
        memset(d, 0, (size_t)(3 * cin) * sizeof(float));
      } else if (ix0 >= 0 && ix0 + 2 < width) {
        /* The row's three taps are three neighbouring pixels: one contiguous span. */
        copy_floats(d, in + (iy * width + ix0) * cin, 3 * cin);
      } else {
        for (int kx = 0; kx < 3; ++kx) {
          const int64_t ix = ix0 + kx;
          if (ix < 0 || ix >= width) {
            memset(d + kx * cin, 0, (size_t)cin * sizeof(float));
          } else {
            copy_floats(d + kx * cin, in + (iy * width + ix) * cin, cin);
          }
        }
      }
    }
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_conv3x3s2_f32(xcit_ctx* ctx, float* out, const float* in, const float* weight,
                                   const float* bias, int64_t batch, int64_t height, int64_t width,
                                   int64_t cin, int64_t cout, int64_t first_row, int64_t out_rows,
                                   int32_t flags) {
  static const char* const OP = "xcit_cpu_conv3x3s2_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "in", in)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "weight", weight)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "bias", bias)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, batch, height + 1, width + 1, cin, cout)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, height, width, first_row, out_rows)) != XCIT_OK ||
      (st = xcit_require(ctx, first_row + out_rows <= (height + 1) / 2, OP,
                         "first_row + out_rows exceeds the output rows ceil(height/2)")) != XCIT_OK ||
      (st = xcit_require(ctx, (flags & ~(XCIT_CONV_GELU | XCIT_CONV_CHANNELS_FIRST)) == 0, OP,
                         "flags: unknown bits (XCIT_CONV_GELU | XCIT_CONV_CHANNELS_FIRST)")) != XCIT_OK) {
    return st;
  }
  if (batch == 0 || out_rows == 0 || width == 0 || cout == 0) return XCIT_OK;
  const int threads = xcit_cpu_threads_of(ctx);
  /* Must match the kernel: the packed weight, then the padded bias. */
  const int64_t floats = 9 * cin * xcit_pad(cout) + xcit_pad(cout);
  float* scratch = xcit_cpu_scratch(ctx, OP, floats * (int64_t)sizeof(float));
  if (scratch == NULL) return XCIT_ERR_OUT_OF_MEMORY;
  xcit_cpu_k(ctx)->conv3x3s2(out, in, weight, bias, batch, height, width, cin, cout, first_row,
                             out_rows, flags, scratch, threads);
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
