/* Local patch interaction (xcit.h, spec 3), fused and channel-last:
 *   m = bn_scale * GELU(dwconv3x3(in) + bias1) + bn_shift, r = dwconv3x3(m) + bias2,
 *   out = r, or out += gamma * r (the residual update of the block).
 * Each work item is a band of output rows of one image; it keeps a ring of three rows of
 * m (the output row and its 1-row halo on each side) in per-thread scratch and computes
 * each m row once, plus one halo row at each band edge. No transposes: vectors run over
 * the contiguous channels. Depthwise weights are first transposed to (9, C) so that a
 * tap's weights are contiguous too. */
#if defined(XCIT_ISA)
#include "cpu/simd.h"

/* What a depthwise row does with each output value acc (per channel ch):
 * LPI_STORE: dst = acc; LPI_GELU_AFFINE: dst = GELU(acc) * scale + shift (the m rows:
 * conv1, GELU and the folded BatchNorm in one pass); LPI_RESIDUAL: dst += scale * acc
 * (the block's residual update with gamma). */
enum lpi_epilogue { LPI_STORE, LPI_GELU_AFFINE, LPI_RESIDUAL };

/* dst[x][c] = epilogue(bias[c] + sum over the 9 taps of src rows times wt[tap][c]) for one
 * row of width w; src rows outside the image point at a zero row, pixels outside the row
 * are zero. Vectors of channels run outer, so the 9 tap weights of a vector stay in
 * registers and a 3 x 3 window of inputs slides along x: each pixel loads 3 new vectors for
 * its 9 FMAs. The channel tail (C not a multiple of the vector) runs scalar. Inlined with
 * a constant epilogue, so each use compiles to its own loop. */
static inline __attribute__((always_inline)) void dwconv_row(
    float* dst, const float* const src[3], const float* wt, const float* bias, const float* scale,
    const float* shift, int64_t w, int64_t c, enum lpi_epilogue epilogue) {
  const int64_t cv = c / VLEN * VLEN;
  for (int64_t ch = 0; ch < cv; ch += VLEN) {
    vf wk[9];
    for (int k = 0; k < 9; ++k) wk[k] = vload(wt + k * c + ch);
    const vf b = vload(bias + ch);
    const vf sc = epilogue == LPI_STORE ? b : vload(scale + ch);
    const vf sh = epilogue == LPI_GELU_AFFINE ? vload(shift + ch) : b;
    vf l[3], m[3], r[3];
    for (int k = 0; k < 3; ++k) {
      l[k] = vset1(0.0f);
      m[k] = vload(src[k] + ch);
    }
    for (int64_t x = 0; x < w; ++x) {
      for (int k = 0; k < 3; ++k) r[k] = x + 1 < w ? vload(src[k] + (x + 1) * c + ch) : vset1(0.0f);
      vf acc = b;
      for (int k = 0; k < 3; ++k) acc += l[k] * wk[3 * k] + m[k] * wk[3 * k + 1] + r[k] * wk[3 * k + 2];
      float* d = dst + x * c + ch;
      if (epilogue == LPI_STORE) vstore(d, acc);
      else if (epilogue == LPI_GELU_AFFINE) vstore(d, vgelu(acc) * sc + sh);
      else vstore(d, vload(d) + sc * acc);
      for (int k = 0; k < 3; ++k) {
        l[k] = m[k];
        m[k] = r[k];
      }
    }
  }
  for (int64_t ch = cv; ch < c; ++ch) {
    for (int64_t x = 0; x < w; ++x) {
      float acc = bias[ch];
      for (int ky = 0; ky < 3; ++ky) {
        for (int kx = 0; kx < 3; ++kx) {
          const int64_t ix = x - 1 + kx;
          if (ix >= 0 && ix < w) acc += src[ky][ix * c + ch] * wt[(ky * 3 + kx) * c + ch];
        }
      }
      float* d = dst + x * c + ch;
      if (epilogue == LPI_STORE) *d = acc;
      else if (epilogue == LPI_GELU_AFFINE) *d = vgelu(vset1(acc))[0] * scale[ch] + shift[ch];
      else *d += scale[ch] * acc;
    }
  }
}

void XCIT_KFN(lpi)(float* out, const float* in, const float* weight1, const float* bias1,
                   const float* bn_scale, const float* bn_shift, const float* weight2,
                   const float* bias2, const float* gamma, int64_t batch, int64_t height,
                   int64_t width, int64_t channels, float* scratch, int threads) {
  const int64_t c = channels, row = width * c;
  float* w1t = scratch;     /* (9, C) */
  float* w2t = w1t + 9 * c; /* (9, C) */
  float* zero = w2t + 9 * c; /* one row of zeros: the rows above and below the image */
  /* Bands: enough for every thread on one image, and at least 2 rows each. */
  int64_t bands = threads;
  if (bands > (height + 1) / 2) bands = (height + 1) / 2;
  if (bands < 1) bands = 1;
  const int64_t band_rows = (height + bands - 1) / bands;
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static)
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int k = 0; k < 9; ++k) {
        w1t[k * c + ch] = weight1[ch * 9 + k];
        w2t[k * c + ch] = weight2[ch * 9 + k];
      }
    }
#pragma omp for schedule(static)
    for (int64_t i = 0; i < row; ++i) zero[i] = 0.0f;
    float* ring = zero + row + (int64_t)xcit_tid() * 3 * row; /* m row r at slot r % 3 */
#pragma omp for schedule(static)
    for (int64_t item = 0; item < batch * bands; ++item) {
      const int64_t b = item / bands, y0 = (item % bands) * band_rows;
      const int64_t y1 = y0 + band_rows < height ? y0 + band_rows : height;
      const float* img = in + b * height * row;
      int64_t next = y0 - 1 < 0 ? 0 : y0 - 1; /* first m row not yet computed */
      for (int64_t y = y0; y < y1; ++y) {
        const int64_t need = y + 1 < height ? y + 1 : height - 1;
        for (; next <= need; ++next) {
          const float* src[3];
          for (int k = 0; k < 3; ++k) {
            const int64_t iy = next - 1 + k;
            src[k] = iy < 0 || iy >= height ? zero : img + iy * row;
          }
          dwconv_row(ring + (next % 3) * row, src, w1t, bias1, bn_scale, bn_shift, width, c, LPI_GELU_AFFINE);
        }
        const float* msrc[3];
        for (int k = 0; k < 3; ++k) {
          const int64_t my = y - 1 + k;
          msrc[k] = my < 0 || my >= height ? zero : ring + (my % 3) * row;
        }
        float* dst = out + (b * height + y) * row;
        if (gamma == NULL) dwconv_row(dst, msrc, w2t, bias2, NULL, NULL, width, c, LPI_STORE);
        else dwconv_row(dst, msrc, w2t, bias2, gamma, NULL, width, c, LPI_RESIDUAL);
      }
    }
  }
}

#else
#include "cpu/runtime.h"

xcit_status xcit_cpu_lpi_f32(xcit_ctx* ctx, float* out, const float* in, const float* weight1,
                             const float* bias1, const float* bn_scale, const float* bn_shift,
                             const float* weight2, const float* bias2, const float* gamma,
                             int64_t batch, int64_t height, int64_t width, int64_t channels) {
  static const char* const OP = "xcit_cpu_lpi_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "out", out)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "in", in)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "weight1", weight1)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "bias1", bias1)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "bn_scale", bn_scale)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "bn_shift", bn_shift)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "weight2", weight2)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, OP, "bias2", bias2)) != XCIT_OK ||
      (st = XCIT_CHECK_DIMS(ctx, OP, batch, height, width, channels, 9)) != XCIT_OK ||
      (st = xcit_require(ctx, out != in, OP, "out must not alias in")) != XCIT_OK) {
    return st;
  }
  if (batch == 0 || height == 0 || width == 0 || channels == 0) return XCIT_OK;
  const int threads = xcit_cpu_threads_of(ctx);
  /* Transposed weights, a row of zeros, then per thread three m rows. */
  const int64_t floats = 18 * channels + (1 + (int64_t)threads * 3) * width * channels;
  float* scratch = xcit_cpu_scratch(ctx, OP, floats * (int64_t)sizeof(float));
  if (scratch == NULL) return XCIT_ERR_OUT_OF_MEMORY;
  xcit_cpu_k(ctx)->lpi(out, in, weight1, bias1, bn_scale, bn_shift, weight2, bias2, gamma, batch,
                       height, width, channels, scratch, threads);
  return XCIT_OK;
}
#endif
