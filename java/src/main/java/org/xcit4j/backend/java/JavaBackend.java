package org.xcit4j.backend.java;

import java.lang.foreign.MemorySegment;
import java.util.stream.IntStream;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.Checks;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The reference backend: plain loops in Java, every reduction accumulated in double. It is the
 * oracle the native backends are tested against and the fallback where no native library
 * loads; it is written to be obviously correct, not fast (rows run in parallel, nothing more).
 */
public final class JavaBackend implements Backend {
    static final float NORM_EPS = 1e-12f;

    /** Scratch for LPI's intermediate grid; grows once to the session's size, then is reused. */
    private float[] lpiScratch = new float[0];

    /** A reference backend; it holds nothing native (closing it drops its scratch array). */
    public JavaBackend() {
    }

    @Override
    public String name() {
        return "java";
    }

    @Override
    public void layerNorm(Tensor out, Tensor in, Tensor gamma, Tensor beta, float eps) {
        int cols = in.shape().size(-1);
        int rows = Math.toIntExact(in.numel() / Math.max(cols, 1));
        requireSameShape(out, in, "layerNorm out/in");
        requireNumel(gamma, cols, "layerNorm gamma");
        requireNumel(beta, cols, "layerNorm beta");
        parallel(rows, r -> {
            long base = (long) r * cols;
            double sum = 0;
            for (int c = 0; c < cols; c++) sum += in.get(base + c);
            double mean = sum / cols;
            double sq = 0;
            for (int c = 0; c < cols; c++) {
                double dv = in.get(base + c) - mean;
                sq += dv * dv;
            }
            double inv = 1.0 / Math.sqrt(sq / cols + eps);
            for (int c = 0; c < cols; c++) {
                out.set(base + c, (float) ((in.get(base + c) - mean) * inv * gamma.get(c) + beta.get(c)));
            }
        }, out, in, gamma, beta);
    }

    @Override
    public void linear(Tensor out, Tensor in, Tensor weight, Tensor bias) {
        int k = weight.shape().size(1);
        int o = weight.shape().size(0);
        if (in.numel() % k != 0) throw shapeError("linear in", in.shape(), "(M, " + k + ")");
        int m = Math.toIntExact(in.numel() / k);
        requireNumel(out, (long) m * o, "linear out");
        if (bias != null) requireNumel(bias, o, "linear bias");
        MemorySegment x = in.segment();
        MemorySegment w = weight.segment();
        parallel(m, row -> {
            long xBase = (long) row * k;
            for (int j = 0; j < o; j++) {
                long wBase = (long) j * k;
                double acc = bias == null ? 0 : bias.get(j);
                for (int i = 0; i < k; i++) {
                    acc += (double) x.getAtIndex(Tensor.F32, xBase + i) * w.getAtIndex(Tensor.F32, wBase + i);
                }
                out.set((long) row * o + j, (float) acc);
            }
        }, out, in, weight, bias == null ? in : bias);
    }

    @Override
    public void gelu(Tensor x) {
        long n = x.numel();
        int chunk = 1 << 14;
        parallel(Math.toIntExact((n + chunk - 1) / chunk), c -> {
            for (long i = (long) c * chunk, end = Math.min(n, i + chunk); i < end; i++) {
                x.set(i, (float) Erf.gelu(x.get(i)));
            }
        }, x);
    }

    @Override
    public void addScaled(Tensor x, Tensor y, Tensor gamma) {
        requireSameShape(x, y, "addScaled x/y");
        int cols = x.shape().size(-1);
        if (gamma != null) requireNumel(gamma, cols, "addScaled gamma");
        for (long i = 0, n = x.numel(); i < n; i++) {
            float g = gamma == null ? 1f : gamma.get(i % cols);
            x.set(i, x.get(i) + g * y.get(i));
        }
    }

    @Override
    public void addBroadcast(Tensor x, Tensor rows) {
        long per = rows.numel();
        if (per == 0 || x.numel() % per != 0) throw shapeError("addBroadcast rows", rows.shape(), "a divisor of " + x.shape());
        for (long i = 0, n = x.numel(); i < n; i++) x.set(i, x.get(i) + rows.get(i % per));
    }

    @Override
    public void nchwToNhwc(Tensor out, Tensor in) {
        Shape s = in.shape();
        int b = s.size(0), c = s.size(1), h = s.size(2), w = s.size(3);
        requireShape(out, Shape.of(b, h, w, c), "nchwToNhwc out");
        for (int n = 0; n < b; n++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int xx = 0; xx < w; xx++)
                        out.set((((long) n * h + y) * w + xx) * c + ch, in.get((((long) n * c + ch) * h + y) * w + xx));
    }

    @Override
    public void conv3x3s2(Tensor out, Tensor in, int firstRow, Tensor weight, Tensor bias, boolean gelu) {
        conv(out, in, false, firstRow, weight, bias, gelu);
    }

    @Override
    public void conv3x3s2ChannelsFirst(Tensor out, Tensor in, int firstRow, Tensor weight, Tensor bias, boolean gelu) {
        conv(out, in, true, firstRow, weight, bias, gelu);
    }

    private static void conv(Tensor out, Tensor in, boolean channelsFirst, int firstRow, Tensor weight, Tensor bias, boolean gelu) {
        Shape s = in.shape();
        int rows = Math.toIntExact(Checks.convRows(out, in, channelsFirst, firstRow, weight, bias));
        int b = s.size(0), cin = s.size(channelsFirst ? 1 : 3), h = s.size(channelsFirst ? 2 : 1), w = s.size(channelsFirst ? 3 : 2);
        int cout = weight.shape().size(0), ow = (w + 1) / 2;
        parallel(b * rows, br -> {
            int n = br / rows, oy = firstRow + br % rows;
            for (int ox = 0; ox < ow; ox++) {
                for (int co = 0; co < cout; co++) {
                    double acc = bias.get(co);
                    for (int ky = 0; ky < 3; ky++) {
                        int iy = 2 * oy - 1 + ky;
                        if (iy < 0 || iy >= h) continue;
                        for (int kx = 0; kx < 3; kx++) {
                            int ix = 2 * ox - 1 + kx;
                            if (ix < 0 || ix >= w) continue;
                            for (int ci = 0; ci < cin; ci++) {
                                long at = channelsFirst ? (((long) n * cin + ci) * h + iy) * w + ix : (((long) n * h + iy) * w + ix) * cin + ci;
                                acc += (double) in.get(at) * weight.get(((long) (co * cin + ci) * 3 + ky) * 3 + kx);
                            }
                        }
                    }
                    // Rounded to float first, as the conv's output before a separate gelu pass.
                    float y = (float) acc;
                    out.set(((long) br * ow + ox) * cout + co, gelu ? (float) Erf.gelu(y) : y);
                }
            }
        }, out, in, weight, bias);
    }

    @Override
    public void xca(Tensor out, Tensor qkv, Tensor temperature, int heads) {
        Shape s = qkv.shape();
        int b = s.size(0), n = s.size(1), c3 = s.size(2), c = c3 / 3, d = c / heads;
        if (c3 != 3 * c || c != heads * d) throw shapeError("xca qkv", s, "(B, N, 3C) with C divisible by " + heads);
        requireShape(out, Shape.of(b, n, c), "xca out");
        requireNumel(temperature, heads, "xca temperature");
        parallel(b * heads, bh -> {
            int img = bh / heads, head = bh % heads;
            long base = (long) img * n * c3;
            int q0 = head * d, k0 = c + head * d, v0 = 2 * c + head * d;
            double[] qn = new double[d], kn = new double[d];
            double[][] a = new double[d][d];
            for (int t = 0; t < n; t++) {
                long row = base + (long) t * c3;
                for (int i = 0; i < d; i++) {
                    double qi = qkv.get(row + q0 + i);
                    double ki = qkv.get(row + k0 + i);
                    qn[i] += qi * qi;
                    kn[i] += ki * ki;
                    for (int j = 0; j < d; j++) a[i][j] += qi * qkv.get(row + k0 + j);
                }
            }
            double tau = temperature.get(head);
            for (int i = 0; i < d; i++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < d; j++) {
                    a[i][j] = tau * a[i][j] / (Math.max(Math.sqrt(qn[i]), NORM_EPS) * Math.max(Math.sqrt(kn[j]), NORM_EPS));
                    max = Math.max(max, a[i][j]);
                }
                double sum = 0;
                for (int j = 0; j < d; j++) sum += a[i][j] = Math.exp(a[i][j] - max);
                for (int j = 0; j < d; j++) a[i][j] /= sum;
            }
            for (int t = 0; t < n; t++) {
                long row = base + (long) t * c3;
                long outRow = ((long) img * n + t) * c + head * d;
                for (int i = 0; i < d; i++) {
                    double acc = 0;
                    for (int j = 0; j < d; j++) acc += a[i][j] * qkv.get(row + v0 + j);
                    out.set(outRow + i, (float) acc);
                }
            }
        }, out, qkv, temperature);
    }

    @Override
    public void xcaGram(Tensor stats, Tensor qk, int heads, boolean accumulate) {
        JavaXcaChunks.gram(stats, qk, heads, accumulate);
    }

    @Override
    public void xcaSoftmax(Tensor attn, Tensor stats, Tensor temperature) {
        JavaXcaChunks.softmax(attn, stats, temperature);
    }

    @Override
    public boolean foldsClassAttention() {
        return true;
    }

    @Override
    public void classAttentionFromRows(Tensor out, Tensor weights, Tensor q, Tensor u, Tensor kvWeight, Tensor kvBias,
                                       int heads, Tensor kvBuf) {
        JavaClsChunks.fromRows(out, weights, q, u, kvWeight, kvBias, heads);
    }

    @Override
    public void classAttentionFoldQuery(Tensor keys, Tensor q, Tensor kWeight, Tensor kBias) {
        JavaClsChunks.foldQuery(keys, q, kWeight, kBias);
    }

    @Override
    public void classAttentionFoldedScores(Tensor scores, long offset, Tensor keys, Tensor u) {
        JavaClsChunks.foldedScores(scores, offset, keys, u);
    }

    @Override
    public void softmaxRows(Tensor x) {
        JavaClsChunks.softmaxRows(x);
    }

    @Override
    public void classAttentionFoldedSum(Tensor ubar, Tensor weights, long offset, Tensor u, boolean accumulate) {
        JavaClsChunks.foldedSum(ubar, weights, offset, u, accumulate);
    }

    @Override
    public void classAttentionFoldedOut(Tensor out, Tensor ubar, Tensor vWeight, Tensor vBias) {
        JavaClsChunks.foldedOut(out, ubar, vWeight, vBias);
    }

    @Override
    public void lpi(Tensor out, Tensor in, int gridH, int gridW, Tensor weight1, Tensor bias1,
                    Tensor bnScale, Tensor bnShift, Tensor weight2, Tensor bias2) {
        int c = in.shape().size(-1);
        long pixels = (long) gridH * gridW;
        if (in.numel() % (pixels * c) != 0) throw shapeError("lpi in", in.shape(), "(B, " + gridH + "*" + gridW + ", C)");
        int b = Math.toIntExact(in.numel() / (pixels * c));
        requireSameShape(out, in, "lpi out/in");
        if (out.segment().address() == in.segment().address()) throw new IllegalArgumentException("lpi out must not alias in");
        requireNumel(weight1, 9L * c, "lpi weight1");
        requireNumel(weight2, 9L * c, "lpi weight2");
        if (lpiScratch.length < in.numel()) lpiScratch = new float[Math.toIntExact(in.numel())];
        float[] mid = lpiScratch;
        parallel(b * gridH, by -> {
            int img = by / gridH, y = by % gridH;
            for (int x = 0; x < gridW; x++) {
                for (int ch = 0; ch < c; ch++) {
                    long at = (((long) img * gridH + y) * gridW + x) * c + ch;
                    double v = depthwise3x3(in, img, y, x, ch, gridH, gridW, c, weight1, bias1.get(ch));
                    mid[(int) at] = (float) (Erf.gelu((float) v) * bnScale.get(ch) + bnShift.get(ch));
                }
            }
        }, in, weight1, bias1, bnScale, bnShift);
        Tensor midView = Tensor.wrap(MemorySegment.ofArray(mid).asSlice(0, in.numel() * Float.BYTES), in.shape());
        parallel(b * gridH, by -> {
            int img = by / gridH, y = by % gridH;
            for (int x = 0; x < gridW; x++) {
                for (int ch = 0; ch < c; ch++) {
                    long at = (((long) img * gridH + y) * gridW + x) * c + ch;
                    out.set(at, (float) depthwise3x3(midView, img, y, x, ch, gridH, gridW, c, weight2, bias2.get(ch)));
                }
            }
        }, out, weight2, bias2);
    }

    /** One output of a zero-padded depthwise 3x3 convolution over a channel-last grid. */
    private static double depthwise3x3(Tensor grid, int img, int y, int x, int ch, int gridH, int gridW,
                                       int c, Tensor weight, double bias) {
        double acc = bias;
        for (int ky = 0; ky < 3; ky++) {
            int iy = y - 1 + ky;
            if (iy < 0 || iy >= gridH) continue;
            for (int kx = 0; kx < 3; kx++) {
                int ix = x - 1 + kx;
                if (ix < 0 || ix >= gridW) continue;
                acc += (double) grid.get((((long) img * gridH + iy) * gridW + ix) * c + ch) * weight.get(ch * 9L + ky * 3 + kx);
            }
        }
        return acc;
    }

    @Override
    public void classAttention(Tensor out, Tensor weights, Tensor q, Tensor kv, int heads) {
        Shape s = kv.shape();
        int b = s.size(0), t = s.size(1), c = s.size(2) / 2, d = c / heads;
        requireShape(q, Shape.of(b, c), "classAttention q");
        requireShape(out, Shape.of(b, c), "classAttention out");
        if (weights != null) requireShape(weights, Shape.of(b, heads, t), "classAttention weights");
        double scale = 1.0 / Math.sqrt(d);
        for (int img = 0; img < b; img++) {
            for (int head = 0; head < heads; head++) {
                double[] score = new double[t];
                double max = Double.NEGATIVE_INFINITY;
                for (int r = 0; r < t; r++) {
                    long kRow = ((long) img * t + r) * 2 * c + head * d;
                    double acc = 0;
                    for (int i = 0; i < d; i++) acc += (double) q.get((long) img * c + head * d + i) * kv.get(kRow + i);
                    score[r] = acc * scale;
                    max = Math.max(max, score[r]);
                }
                double sum = 0;
                for (int r = 0; r < t; r++) sum += score[r] = Math.exp(score[r] - max);
                if (weights != null) {
                    for (int r = 0; r < t; r++) weights.set(((long) img * heads + head) * t + r, (float) (score[r] / sum));
                }
                for (int i = 0; i < d; i++) {
                    double acc = 0;
                    for (int r = 0; r < t; r++) acc += score[r] * kv.get(((long) img * t + r) * 2 * c + c + head * d + i);
                    out.set((long) img * c + head * d + i, (float) (acc / sum));
                }
            }
        }
    }

    @Override
    public void channelAffine(Tensor x, Tensor scale, Tensor shift) {
        int c = x.shape().size(-1);
        requireNumel(scale, c, "channelAffine scale");
        requireNumel(shift, c, "channelAffine shift");
        for (long i = 0, n = x.numel(); i < n; i++) {
            int ch = (int) (i % c);
            x.set(i, (float) ((double) x.get(i) * scale.get(ch) + shift.get(ch)));
        }
    }

    @Override
    public void convTranspose2x2(Tensor out, Tensor in, Tensor weight, Tensor bias) {
        Shape s = in.shape();
        int b = s.size(0), h = s.size(1), w = s.size(2), cin = s.size(3);
        int cout = weight.shape().size(1);
        requireShape(weight, Shape.of(cin, cout, 2, 2), "convTranspose2x2 weight");
        requireShape(out, Shape.of(b, 2L * h, 2L * w, cout), "convTranspose2x2 out");
        requireNumel(bias, cout, "convTranspose2x2 bias");
        parallel(b * h, by -> {
            int n = by / h, y = by % h;
            for (int x = 0; x < w; x++) {
                long inBase = (((long) n * h + y) * w + x) * cin;
                for (int i = 0; i < 2; i++) {
                    for (int j = 0; j < 2; j++) {
                        long outBase = (((long) n * 2 * h + 2 * y + i) * 2 * w + 2 * x + j) * cout;
                        for (int o = 0; o < cout; o++) {
                            double acc = bias.get(o);
                            for (int c = 0; c < cin; c++) acc += (double) in.get(inBase + c) * weight.get(((long) c * cout + o) * 4 + i * 2 + j);
                            out.set(outBase + o, (float) acc);
                        }
                    }
                }
            }
        }, out, in, weight, bias);
    }

    @Override
    public void maxPool(Tensor out, Tensor in, int k) {
        Shape s = in.shape();
        int b = s.size(0), h = s.size(1), w = s.size(2), c = s.size(3), oh = h / k, ow = w / k;
        requireShape(out, Shape.of(b, oh, ow, c), "maxPool out");
        for (int n = 0; n < b; n++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++)
                    for (int ch = 0; ch < c; ch++) {
                        float m = Float.NEGATIVE_INFINITY;
                        for (int i = 0; i < k; i++)
                            for (int j = 0; j < k; j++) {
                                float v = in.get((((long) n * h + y * k + i) * w + x * k + j) * c + ch);
                                m = Float.isNaN(v) || v > m ? v : m; // NaN propagates, as in torch
                                if (Float.isNaN(m)) break;
                            }
                        out.set((((long) n * oh + y) * ow + x) * c + ch, m);
                    }
    }

    @Override
    public void gatherRow(Tensor out, Tensor in, int row) {
        Shape s = in.shape();
        int b = s.size(0), r = s.size(1), c = s.size(2);
        requireShape(out, Shape.of(b, c), "gatherRow out");
        long bytes = (long) c * Float.BYTES;
        for (int img = 0; img < b; img++) {
            MemorySegment.copy(in.segment(), (((long) img * r) + row) * bytes, out.segment(), img * bytes, bytes);
        }
    }

    @Override
    public void scatterRow(Tensor out, int row, Tensor in) {
        Shape s = out.shape();
        int b = s.size(0), r = s.size(1), c = s.size(2);
        requireShape(in, Shape.of(b, c), "scatterRow in");
        long bytes = (long) c * Float.BYTES;
        for (int img = 0; img < b; img++) {
            MemorySegment.copy(in.segment(), img * bytes, out.segment(), (((long) img * r) + row) * bytes, bytes);
        }
    }

    @Override
    public void prependRow(Tensor out, Tensor first, Tensor tokens) {
        Shape s = tokens.shape();
        int b = s.size(0), n = s.size(1), c = s.size(2);
        requireShape(out, Shape.of(b, n + 1, c), "prependRow out");
        requireNumel(first, c, "prependRow first");
        long rowBytes = (long) c * Float.BYTES;
        for (int img = 0; img < b; img++) {
            long dst = (long) img * (n + 1) * rowBytes;
            MemorySegment.copy(first.segment(), 0, out.segment(), dst, rowBytes);
            MemorySegment.copy(tokens.segment(), (long) img * n * rowBytes, out.segment(), dst + rowBytes, n * rowBytes);
        }
    }

    @Override
    public void close() {
        lpiScratch = new float[0];
    }

    /** A thread that never runs: a segment it may access is accessible from any thread. */
    private static final Thread ANY_THREAD = new Thread(() -> { });

    /**
     * Runs body(0 .. count-1), in parallel when every tensor it touches may be accessed from
     * other threads (a confined arena's memory may not; then it runs on the caller's thread).
     */
    static void parallel(int count, java.util.function.IntConsumer body, Tensor... touched) {
        boolean shared = true;
        for (Tensor t : touched) shared &= t.segment().isAccessibleBy(ANY_THREAD);
        if (count < 2 || !shared) {
            for (int i = 0; i < count; i++) body.accept(i);
        } else {
            IntStream.range(0, count).parallel().forEach(body);
        }
    }

    static void requireSameShape(Tensor a, Tensor b, String what) {
        if (!a.shape().equals(b.shape())) throw shapeError(what, a.shape(), b.shape().toString());
    }

    static void requireShape(Tensor t, Shape expected, String what) {
        if (!t.shape().equals(expected)) throw shapeError(what, t.shape(), expected.toString());
    }

    static void requireNumel(Tensor t, long numel, String what) {
        if (t.numel() != numel) throw shapeError(what, t.shape(), numel + " elements");
    }

    static IllegalArgumentException shapeError(String what, Shape got, String expected) {
        return new IllegalArgumentException(what + ": shape " + got + ", expected " + expected);
    }
}
