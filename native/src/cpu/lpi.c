/* Local patch interaction (xcit.h, spec 3), fused and channel-last:
 *   m = bn_scale * GELU(dwconv3x3(in) + bias1) + bn_shift, r = dwconv3x3(m) + bias2,
 *   out = r, or out += gamma * r (the residual update of the block).
 * Each work item is a band of output rows of one image; it keeps a ring of three rows of
 * m (the output row and its 1-row halo on each side) in per-thread scratch and computes
 * each m row once, plus one halo row at each band edge. No transposes: every loop runs
 * over the contiguous channels. Depthwise weights are first transposed to (9, C) so that
 * a tap's weights are contiguous too. */
#if defined(XCIT_ISA)
#include "cpu/simd.h"

/* dst[x][c] = bias[c] + sum over the valid taps of src rows (NULL = outside the image)
 * times wt[tap][c], for one row of width w. Vector body over whole vectors of channels,
 * scalar tail (reading past C would cross into the next pixel or past the buffer). */
static void dwconv_row(float* dst, const float* const src[3], const float* wt, const float* bias,
                       int64_t w, int64_t c) {
  const int64_t cv = c / VLEN * VLEN;
  for (int64_t x = 0; x < w; ++x) {
    for (int64_t ch = 0; ch < cv; ch += VLEN) {
      vf acc = vload(bias + ch);
      for (int ky = 0; ky < 3; ++ky) {
        if (src[ky] == NULL) continue;
        for (int kx = 0; kx < 3; ++kx) {
          const int64_t ix = x - 1 + kx;
          if (ix < 0 || ix >= w) continue;
          acc += vload(src[ky] + ix * c + ch) * vload(wt + (ky * 3 + kx) * c + ch);
        }
      }
      vstore(dst + x * c + ch, acc);
    }
    for (int64_t ch = cv; ch < c; ++ch) {
      float acc = bias[ch];
      for (int ky = 0; ky < 3; ++ky) {
        if (src[ky] == NULL) continue;
        for (int kx = 0; kx < 3; ++kx) {
          const int64_t ix = x - 1 + kx;
          if (ix < 0 || ix >= w) continue;
          acc += src[ky][ix * c + ch] * wt[(ky * 3 + kx) * c + ch];
        }
      }
      dst[x * c + ch] = acc;
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
    float* ring = w2t + 9 * c + (int64_t)xcit_tid() * 4 * row; /* m row r at slot r % 3 */
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
            src[k] = iy < 0 || iy >= height ? NULL : img + iy * row;
          }
          float* m = ring + (next % 3) * row;
          dwconv_row(m, src, w1t, bias1, width, c);
          gelu_span(m, row);
          for (int64_t x = 0; x < width; ++x) {
            float* mx = m + x * c;
#pragma omp simd
            for (int64_t ch = 0; ch < c; ++ch) mx[ch] = mx[ch] * bn_scale[ch] + bn_shift[ch];
          }
        }
        const float* msrc[3];
        for (int k = 0; k < 3; ++k) {
          const int64_t my = y - 1 + k;
          msrc[k] = my < 0 || my >= height ? NULL : ring + (my % 3) * row;
        }
        float* dst = out + (b * height + y) * row;
        if (gamma == NULL) {
          dwconv_row(dst, msrc, w2t, bias2, width, c);
        } else {
          /* Residual form: r goes to a fourth per-thread row after the ring (all three
           * m rows are still live), then out += gamma * r. */
          float* tmp = ring + 3 * row;
          dwconv_row(tmp, msrc, w2t, bias2, width, c);
          for (int64_t x = 0; x < width; ++x) {
#pragma omp simd
            for (int64_t ch = 0; ch < c; ++ch) dst[x * c + ch] += gamma[ch] * tmp[x * c + ch];
          }
        }
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
  /* Transposed weights, then per thread three m rows and one row for r. */
  const int64_t floats = 18 * channels + (int64_t)threads * 4 * width * channels;
  float* scratch = xcit_cpu_scratch(ctx, OP, floats * (int64_t)sizeof(float));
  if (scratch == NULL) return XCIT_ERR_OUT_OF_MEMORY;
  xcit_cpu_k(ctx)->lpi(out, in, weight1, bias1, bn_scale, bn_shift, weight2, bias2, gamma, batch,
                       height, width, channels, scratch, threads);
  return XCIT_OK;
}
#endif
