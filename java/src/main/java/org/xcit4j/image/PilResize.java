package org.xcit4j.image;

/**
 * Bicubic (and bilinear) resizing with the exact arithmetic of PIL's
 * {@code Image.resize(size, BICUBIC)} (libImaging/Resample.c), so that an image gives the
 * same bytes here as in timm's preprocessing. PIL's algorithm, reproduced step by step:
 * <ul>
 * <li>separable: a horizontal pass into an 8-bit intermediate, then a vertical pass (for
 * images taller than 100 times their width that shrink vertically, PIL's Python layer runs
 * the vertical pass first: so does this class);</li>
 * <li>antialiasing: when shrinking by a factor s the filter support (2 for bicubic, a = -0.5;
 * 1 for bilinear, a triangle) is scaled by s, and taps are evaluated at
 * {@code (x - center + 0.5) / s};</li>
 * <li>per output pixel, the taps are normalised to sum to 1 in double, then turned into
 * 22-bit fixed point ({@code PRECISION_BITS = 32 - 8 - 2}) rounding half away from zero;</li>
 * <li>accumulation in int starting from 2^21 (rounding), then {@code >> 22} and clipped to
 * 0..255 after each pass.</li>
 * </ul>
 * A pass whose size does not change is skipped, as in PIL. Only the pixels of a requested
 * crop are computed: each output pixel depends only on its own taps, so this gives the same
 * bytes as resizing fully and cropping afterwards.
 */
final class PilResize {
    /** Bits of the fixed-point taps: 8 bits for the result, 2 for overflow of negative lobes. */
    static final int PRECISION_BITS = 32 - 8 - 2;
    private static final double A = -0.5;

    /** PIL's resampling filters that timm's eval transforms use, with their support. */
    public enum Filter {
        /** PIL BICUBIC: Keys' kernel, a = -0.5 (XCiT's configured interpolation). */
        BICUBIC(2.0),
        /** PIL BILINEAR: the triangle (timm's transform for non-square targets, see Preprocessing). */
        BILINEAR(1.0);

        final double support;

        Filter(double support) {
            this.support = support;
        }

        double weight(double x) {
            return this == BICUBIC ? bicubic(x) : bilinear(x);
        }
    }

    private PilResize() {
    }

    /** {@code image} resized to outWidth x outHeight (bicubic). */
    public static RgbImage resize(RgbImage image, int outWidth, int outHeight) {
        return resizeCrop(image, outWidth, outHeight, 0, 0, outWidth, outHeight);
    }

    /**
     * The region (left, top, cropWidth, cropHeight) of {@code image} resized to
     * outWidth x outHeight (bicubic); the region must lie inside the resized image.
     */
    public static RgbImage resizeCrop(RgbImage image, int outWidth, int outHeight, int left, int top, int cropWidth, int cropHeight) {
        return resizeCrop(image, outWidth, outHeight, left, top, cropWidth, cropHeight, Filter.BICUBIC);
    }

    /** As {@link #resizeCrop(RgbImage, int, int, int, int, int, int)} with {@code filter}. */
    public static RgbImage resizeCrop(RgbImage image, int outWidth, int outHeight, int left, int top, int cropWidth, int cropHeight,
                                      Filter filter) {
        if (outWidth < 1 || outHeight < 1 || left < 0 || top < 0 || cropWidth < 1 || cropHeight < 1
                || left + cropWidth > outWidth || top + cropHeight > outHeight) {
            throw new IllegalArgumentException("crop (" + left + ", " + top + ", " + cropWidth + "x" + cropHeight
                    + ") is not inside a " + outWidth + "x" + outHeight + " image");
        }
        // PIL's Image.resize runs very tall images vertical pass first: a transpose makes that
        // our horizontal-first code (moving bytes is exact).
        if ((long) image.height() > (long) image.width() * 100 && outHeight < image.height()) {
            return transpose(horizontalFirst(transpose(image), outHeight, outWidth, top, left, cropHeight, cropWidth, filter));
        }
        return horizontalFirst(image, outWidth, outHeight, left, top, cropWidth, cropHeight, filter);
    }

    private static RgbImage horizontalFirst(RgbImage in, int outW, int outH, int left, int top, int cw, int ch, Filter filter) {
        boolean needH = outW != in.width(), needV = outH != in.height();
        Taps v = needV ? Taps.of(in.height(), outH, top, ch, filter) : null;
        // Source rows the vertical pass reads (all of them for its first to last tap).
        int rowFrom = needV ? v.first() : top, rowTo = needV ? v.end() : top + ch;
        RgbImage mid = needH
                ? horizontal(in, Taps.of(in.width(), outW, left, cw, filter), rowFrom, rowTo)
                : copyRegion(in, left, rowFrom, cw, rowTo - rowFrom);
        return needV ? vertical(mid, v, rowFrom) : mid;
    }

    /** Rows [rowFrom, rowTo) of {@code in}, each resampled to the taps' output columns. */
    private static RgbImage horizontal(RgbImage in, Taps t, int rowFrom, int rowTo) {
        RgbImage out = RgbImage.blank(t.count(), rowTo - rowFrom);
        byte[] src = in.pixels(), dst = out.pixels();
        int o = 0;
        for (int y = rowFrom; y < rowTo; y++) {
            int rowBase = y * in.width() * 3;
            for (int j = 0; j < t.count(); j++) {
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                int k = j * t.ksize(), p = rowBase + t.min[j] * 3;
                for (int i = 0; i < t.len[j]; i++, p += 3) {
                    int w = t.k[k + i];
                    s0 += (src[p] & 0xff) * w;
                    s1 += (src[p + 1] & 0xff) * w;
                    s2 += (src[p + 2] & 0xff) * w;
                }
                dst[o++] = clip8(s0);
                dst[o++] = clip8(s1);
                dst[o++] = clip8(s2);
            }
        }
        return out;
    }

    /** Resamples the columns of {@code in}, whose row 0 is source row {@code rowOffset}. */
    private static RgbImage vertical(RgbImage in, Taps t, int rowOffset) {
        int w = in.width(), stride = w * 3;
        RgbImage out = RgbImage.blank(w, t.count());
        byte[] src = in.pixels(), dst = out.pixels();
        int o = 0;
        for (int j = 0; j < t.count(); j++) {
            int k = j * t.ksize(), base = (t.min[j] - rowOffset) * stride;
            for (int x = 0; x < w; x++) {
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                int p = base + x * 3;
                for (int i = 0; i < t.len[j]; i++, p += stride) {
                    int wt = t.k[k + i];
                    s0 += (src[p] & 0xff) * wt;
                    s1 += (src[p + 1] & 0xff) * wt;
                    s2 += (src[p + 2] & 0xff) * wt;
                }
                dst[o++] = clip8(s0);
                dst[o++] = clip8(s1);
                dst[o++] = clip8(s2);
            }
        }
        return out;
    }

    private static byte clip8(int acc) {
        int v = acc >> PRECISION_BITS;
        return (byte) (v < 0 ? 0 : Math.min(v, 255));
    }

    /**
     * Fixed-point taps of output positions [from, from + count) for resizing inSize to
     * outSize: source start {@code min}, tap count {@code len}, weights {@code k} (ksize per
     * position). PIL's precompute_coeffs and normalize_coeffs_8bpc.
     */
    record Taps(int[] min, int[] len, int[] k, int ksize) {
        static Taps of(int inSize, int outSize, int from, int count, Filter filter) {
            double scale = (double) inSize / outSize;
            double filterScale = Math.max(scale, 1.0);
            double support = filter.support * filterScale;
            int ksize = (int) Math.ceil(support) * 2 + 1;
            int[] min = new int[count], len = new int[count], k = new int[count * ksize];
            double[] w = new double[ksize];
            for (int j = 0; j < count; j++) {
                double center = (from + j + 0.5) * scale;
                double ss = 1.0 / filterScale;
                // (int) truncates toward zero like C's cast; the clamp makes the sign moot.
                int xmin = Math.max((int) (center - support + 0.5), 0);
                int xmax = Math.min((int) (center + support + 0.5), inSize) - xmin;
                double sum = 0;
                for (int x = 0; x < xmax; x++) {
                    w[x] = filter.weight((x + xmin - center + 0.5) * ss);
                    sum += w[x];
                }
                for (int x = 0; x < xmax; x++) {
                    double n = sum != 0.0 ? w[x] / sum : w[x];
                    k[j * ksize + x] = (int) (n < 0 ? -0.5 + n * (1 << PRECISION_BITS) : 0.5 + n * (1 << PRECISION_BITS));
                }
                min[j] = xmin;
                len[j] = xmax;
            }
            return new Taps(min, len, k, ksize);
        }

        int count() {
            return min.length;
        }

        /** First source index any position reads. */
        int first() {
            int f = Integer.MAX_VALUE;
            for (int m : min) f = Math.min(f, m);
            return f;
        }

        /** One past the last source index any position reads. */
        int end() {
            int e = 0;
            for (int j = 0; j < min.length; j++) e = Math.max(e, min[j] + len[j]);
            return e;
        }
    }

    /** Keys' cubic convolution kernel with a = -0.5, as PIL writes it (same operation order). */
    static double bicubic(double x) {
        if (x < 0.0) x = -x;
        if (x < 1.0) return ((A + 2.0) * x - (A + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * A;
        return 0.0;
    }

    /** PIL's bilinear_filter: the triangle of support 1. */
    static double bilinear(double x) {
        if (x < 0.0) x = -x;
        if (x < 1.0) return 1.0 - x;
        return 0.0;
    }

    private static RgbImage copyRegion(RgbImage in, int x0, int y0, int w, int h) {
        RgbImage out = RgbImage.blank(w, h);
        for (int y = 0; y < h; y++) {
            System.arraycopy(in.pixels(), ((y0 + y) * in.width() + x0) * 3, out.pixels(), y * w * 3, w * 3);
        }
        return out;
    }

    static RgbImage transpose(RgbImage in) {
        int w = in.width(), h = in.height();
        RgbImage out = RgbImage.blank(h, w);
        byte[] src = in.pixels(), dst = out.pixels();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) System.arraycopy(src, (y * w + x) * 3, dst, (x * h + y) * 3, 3);
        }
        return out;
    }
}
