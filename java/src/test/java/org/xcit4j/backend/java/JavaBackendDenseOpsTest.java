package org.xcit4j.backend.java;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xcit4j.Approx;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The dense and streaming ops of the Java reference against naive loops written from the
 * PyTorch definitions (index math spelled out, nothing shared with the implementation).
 * Both sides accumulate in double, so agreement is to float32 rounding: 1e-6.
 */
class JavaBackendDenseOpsTest {
    private static final double TIGHT = 1e-6;

    private static Tensor random(Arena arena, long seed, long... dims) {
        SplittableRandom r = new SplittableRandom(seed);
        Tensor t = Tensor.allocate(arena, Shape.of(dims));
        for (long i = 0; i < t.numel(); i++) t.set(i, (float) r.nextGaussian());
        return t;
    }

    @Test
    void channelAffineScalesAndShiftsEachChannel() {
        try (Arena arena = Arena.ofConfined(); JavaBackend be = new JavaBackend()) {
            Tensor x = random(arena, 1, 2, 3, 5, 7), scale = random(arena, 2, 7), shift = random(arena, 3, 7);
            Tensor want = Tensor.allocate(arena, x.shape());
            for (long i = 0; i < x.numel(); i++) want.set(i, x.get(i) * scale.get(i % 7) + shift.get(i % 7));
            be.channelAffine(x, scale, shift);
            Approx.assertClose("channelAffine", want, x, TIGHT, TIGHT);
        }
    }

    /** torch ConvTranspose2d(k=2, s=2): out[b, o, y, x] = bias[o] + sum_c in[b, c, y/2, x/2] * w[c, o, y%2, x%2]. */
    @ParameterizedTest(name = "B{0} {1}x{2} Cin{3} Cout{4}")
    @CsvSource({"1, 1, 1, 1, 1", "2, 3, 5, 4, 6", "1, 7, 2, 8, 3"})
    void convTranspose2x2MatchesTheDefinition(int b, int h, int w, int cin, int cout) {
        try (Arena arena = Arena.ofConfined(); JavaBackend be = new JavaBackend()) {
            Tensor in = random(arena, 4, b, h, w, cin), weight = random(arena, 5, cin, cout, 2, 2), bias = random(arena, 6, cout);
            Tensor got = Tensor.allocate(arena, Shape.of(b, 2L * h, 2L * w, cout));
            Tensor want = Tensor.allocate(arena, got.shape());
            for (int n = 0; n < b; n++)
                for (int y = 0; y < 2 * h; y++)
                    for (int x = 0; x < 2 * w; x++)
                        for (int o = 0; o < cout; o++) {
                            double acc = bias.get(o);
                            for (int c = 0; c < cin; c++) {
                                acc += (double) in.get((((long) n * h + y / 2) * w + x / 2) * cin + c)
                                        * weight.get((((long) c * cout + o) * 2 + y % 2) * 2 + x % 2);
                            }
                            want.set((((long) n * 2 * h + y) * 2 * w + x) * cout + o, (float) acc);
                        }
            be.convTranspose2x2(got, in, weight, bias);
            Approx.assertClose("convTranspose2x2", want, got, TIGHT, TIGHT);
        }
    }

    /** torch MaxPool2d(k, stride k) floors: trailing rows/columns that do not fill a window are dropped. */
    @ParameterizedTest(name = "k{0} {1}x{2}")
    @CsvSource({"2, 4, 4", "2, 5, 7", "4, 9, 6", "4, 4, 4", "2, 2, 3"})
    void maxPoolFloorsLikeTorch(int k, int h, int w) {
        try (Arena arena = Arena.ofConfined(); JavaBackend be = new JavaBackend()) {
            int b = 2, c = 3;
            Tensor in = random(arena, 7, b, h, w, c);
            Tensor got = Tensor.allocate(arena, Shape.of(b, h / k, w / k, c));
            Tensor want = Tensor.allocate(arena, got.shape());
            for (int n = 0; n < b; n++)
                for (int y = 0; y < h / k; y++)
                    for (int x = 0; x < w / k; x++)
                        for (int ch = 0; ch < c; ch++) {
                            float m = -Float.MAX_VALUE;
                            for (int i = y * k; i < y * k + k; i++)
                                for (int j = x * k; j < x * k + k; j++) m = Math.max(m, in.get((((long) n * h + i) * w + j) * c + ch));
                            want.set((((long) n * (h / k) + y) * (w / k) + x) * c + ch, m);
                        }
            be.maxPool(got, in, k);
            Approx.assertClose("maxPool", want, got, 0, 0);
        }
    }

    @Test
    void maxPoolPropagatesNaN() {
        try (Arena arena = Arena.ofConfined(); JavaBackend be = new JavaBackend()) {
            Tensor in = random(arena, 8, 1, 2, 2, 1);
            in.set(3, Float.NaN);
            Tensor out = Tensor.allocate(arena, Shape.of(1, 1, 1, 1));
            be.maxPool(out, in, 2);
            assertTrue(Float.isNaN(out.get(0)));
        }
    }

    /** Gram chunk by chunk, softmax, then a linear with the block-diagonal matrix equals the one-shot xca op. */
    @ParameterizedTest(name = "N{0} heads{1} d{2} chunk{3}")
    @CsvSource({"7, 2, 4, 3", "20, 4, 3, 20", "13, 1, 5, 1"})
    void chunkedXcaEqualsXca(int n, int heads, int d, int chunk) {
        try (Arena arena = Arena.ofConfined(); JavaBackend be = new JavaBackend()) {
            int c = heads * d;
            Tensor qkv = random(arena, 9, 1, n, 3L * c), temperature = random(arena, 10, heads);
            Tensor want = Tensor.allocate(arena, Shape.of(1, n, c));
            be.xca(want, qkv, temperature, heads);

            Tensor qk = Tensor.allocate(arena, Shape.of(n, 2L * c)), v = Tensor.allocate(arena, Shape.of(n, c));
            for (int t = 0; t < n; t++)
                for (int f = 0; f < 3 * c; f++) {
                    if (f < 2 * c) qk.set((long) t * 2 * c + f, qkv.get((long) t * 3 * c + f));
                    else v.set((long) t * c + f - 2 * c, qkv.get((long) t * 3 * c + f));
                }
            Tensor stats = random(arena, 11, heads, d, d + 2); // garbage: the first chunk must overwrite it
            for (int t0 = 0; t0 < n; t0 += chunk) be.xcaGram(stats, qk.slice(t0, Math.min(n, t0 + chunk)), heads, t0 > 0);
            Tensor attn = random(arena, 12, c, c);
            be.xcaSoftmax(attn, stats, temperature);
            for (int i = 0; i < c; i++)
                for (int j = 0; j < c; j++) if (i / d != j / d) assertEquals(0f, attn.get((long) i * c + j), "off-block entry");
            Tensor got = Tensor.allocate(arena, Shape.of(n, c));
            be.linear(got, v, attn, null);
            Approx.assertClose("chunked xca", want.reshape(n, c), got, Approx.F32_ATOL, Approx.F32_RTOL);
        }
    }

    @Test
    void classAttentionWeightsAreTheSoftmaxThatWeighsV() {
        try (Arena arena = Arena.ofConfined(); JavaBackend be = new JavaBackend()) {
            int b = 2, t = 5, heads = 2, d = 3, c = heads * d;
            Tensor q = random(arena, 13, b, c), kv = random(arena, 14, b, t, 2L * c);
            Tensor out = Tensor.allocate(arena, Shape.of(b, c)), weights = Tensor.allocate(arena, Shape.of(b, heads, t));
            be.classAttention(out, weights, q, kv, heads);
            for (int n = 0; n < b; n++)
                for (int h = 0; h < heads; h++) {
                    double[] s = new double[t];
                    double z = 0;
                    for (int r = 0; r < t; r++) {
                        for (int i = 0; i < d; i++) s[r] += (double) q.get(n * c + h * d + i) * kv.get(((long) n * t + r) * 2 * c + h * d + i);
                        z += s[r] = Math.exp(s[r] / Math.sqrt(d));
                    }
                    for (int r = 0; r < t; r++) assertEquals(s[r] / z, weights.get(((long) n * heads + h) * t + r), TIGHT);
                    for (int i = 0; i < d; i++) {
                        double acc = 0;
                        for (int r = 0; r < t; r++) acc += s[r] / z * kv.get(((long) n * t + r) * 2 * c + c + h * d + i);
                        assertEquals(acc, out.get(n * c + h * d + i), TIGHT);
                    }
                }
        }
    }
}
