package org.xcit4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BiConsumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.xcit4j.Approx;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.NativeException;
import org.xcit4j.backend.Precision;
import org.xcit4j.backend.java.JavaBackend;
import org.xcit4j.bindings.xcit.xcit_h;
import org.xcit4j.tensor.Tensor;

/**
 * Every op of CpuBackend against the Java reference, with each kernel set this CPU runs
 * (AVX-512, AVX2, baseline), on awkward shapes: one token, 7, 196, 197, non-square grids,
 * channel counts that are not a multiple of any vector width, batch 2. Outputs carry NaN
 * guard bands. Tolerance: Approx.F32_* (float32 kernels vs double accumulation).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CpuBackendOpsTest {
    private final JavaBackend ref = new JavaBackend();
    private final List<CpuBackend> cpus = new ArrayList<>();

    @BeforeAll
    void open() {
        int best = xcit_h.xcit_cpu_best_isa();
        for (int isa = best; isa >= xcit_h.XCIT_ISA_GENERIC(); isa--) cpus.add(new CpuBackend(2, Precision.FP32, null, isa));
    }

    @AfterAll
    void close() {
        cpus.forEach(CpuBackend::close);
    }

    Stream<Arguments> isas() {
        return cpus.stream().map(c -> Arguments.of(c.isa(), c));
    }

    /** Runs op on both backends, each on its own copy of every tensor, and compares all of them. */
    private void compare(String what, CpuBackend cpu, List<Tensor> tensors, BiConsumer<Backend, List<Tensor>> op,
                         double atol, double rtol) {
        try (Arena arena = Arena.ofConfined()) {
            List<Tensor> ref = tensors.stream().map(t -> Guarded.copy(arena, t)).toList();
            List<Tensor> got = tensors.stream().map(t -> Guarded.copy(arena, t)).toList();
            op.accept(this.ref, ref);
            op.accept(cpu, got);
            for (int i = 0; i < tensors.size(); i++) {
                Approx.assertClose(what + " [" + cpu.isa() + "] tensor " + i, ref.get(i), got.get(i), atol, rtol);
                assertTrue(Guarded.intact(got.get(i)), what + ": guard band of tensor " + i + " overwritten");
            }
        }
    }

    private void compare(String what, CpuBackend cpu, List<Tensor> tensors, BiConsumer<Backend, List<Tensor>> op) {
        compare(what, cpu, tensors, op, Approx.F32_ATOL, Approx.F32_RTOL);
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("isas")
    void layerNormAndGelu(String isa, CpuBackend cpu) {
        SplittableRandom r = new SplittableRandom(1);
        try (Arena a = Arena.ofConfined()) {
            for (int[] s : new int[][] {{1, 1}, {7, 48}, {197, 384}, {196, 37}}) {
                Tensor x = Guarded.random(a, r, 2, 3, s[0], s[1]);
                Tensor g = Guarded.random(a, r, 1, 0.3, s[1]), b = Guarded.random(a, r, 0, 0.3, s[1]);
                Tensor out = Guarded.nan(a, s[0], s[1]);
                compare("layerNorm " + s[0] + "x" + s[1], cpu, List.of(out, x, g, b), (be, t) -> be.layerNorm(t.get(0), t.get(1), t.get(2), t.get(3), 1e-6f));
                compare("layerNorm in place", cpu, List.of(x, g, b), (be, t) -> be.layerNorm(t.get(0), t.get(0), t.get(1), t.get(2), 1e-6f));
            }
            for (int n : new int[] {1, 7, 15, 17, 8193, 196 * 1536 + 5}) {
                Tensor x = Guarded.random(a, r, 0, 3, n);
                if (n > 3) {
                    x.set(0, -30f);
                    x.set(1, 30f);
                    x.set(2, -0f);
                }
                compare("gelu " + n, cpu, List.of(x), (be, t) -> be.gelu(t.get(0)));
            }
        }
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("isas")
    void elementwise(String isa, CpuBackend cpu) {
        SplittableRandom r = new SplittableRandom(2);
        try (Arena a = Arena.ofConfined()) {
            for (int[] s : new int[][] {{1, 1}, {2, 7, 13}, {2, 197, 48}, {1, 196, 384}}) {
                long c = s[s.length - 1], rows = 1;
                for (int i = 0; i < s.length - 1; i++) rows *= s[i];
                long[] dims = Arrays.stream(s).mapToLong(v -> v).toArray();
                Tensor x = Guarded.random(a, r, 0, 1, dims), y = Guarded.random(a, r, 0, 1, dims);
                Tensor g = Guarded.random(a, r, 0, 1, c), sh = Guarded.random(a, r, 0, 1, c);
                compare("addScaled", cpu, List.of(x, y, g), (be, t) -> be.addScaled(t.get(0), t.get(1), t.get(2)));
                compare("addScaled gamma null", cpu, List.of(x, y), (be, t) -> be.addScaled(t.get(0), t.get(1), null));
                compare("channelAffine", cpu, List.of(x, g, sh), (be, t) -> be.channelAffine(t.get(0), t.get(1), t.get(2)));
                Tensor perImage = Guarded.random(a, r, 0, 1, rows * c / s[0]);
                compare("addBroadcast", cpu, List.of(x, perImage), (be, t) -> be.addBroadcast(t.get(0), t.get(1)));
            }
            for (int[] s : new int[][] {{1, 3, 1, 1}, {2, 3, 37, 51}, {1, 5, 224, 160}}) {
                Tensor in = Guarded.random(a, r, 0, 1, s[0], s[1], s[2], s[3]);
                Tensor out = Guarded.nan(a, s[0], s[2], s[3], s[1]);
                compare("nchwToNhwc", cpu, List.of(out, in), (be, t) -> be.nchwToNhwc(t.get(0), t.get(1)));
            }
        }
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("isas")
    void linearAndFusedEpilogues(String isa, CpuBackend cpu) {
        SplittableRandom r = new SplittableRandom(3);
        try (Arena a = Arena.ofConfined()) {
            for (int[] s : new int[][] {{1, 7, 5}, {197, 48, 144}, {196, 384, 1152}, {7, 1536, 384}, {2 * 197, 64, 10}}) {
                int m = s[0], k = s[1], o = s[2];
                Tensor in = Guarded.random(a, r, 0, 1, m, k);
                Tensor w = Guarded.random(a, r, 0, 1 / Math.sqrt(k), o, k), b = Guarded.random(a, r, 0, 1, o);
                Tensor g = Guarded.random(a, r, 0, 0.5, o), x = Guarded.random(a, r, 0, 1, m, o), out = Guarded.nan(a, m, o);
                String shape = " " + m + "x" + k + "->" + o;
                compare("linear" + shape, cpu, List.of(out, in, w, b), (be, t) -> be.linear(t.get(0), t.get(1), t.get(2), t.get(3)));
                compare("linear no bias" + shape, cpu, List.of(out, in, w), (be, t) -> be.linear(t.get(0), t.get(1), t.get(2), null));
                compare("linearGelu" + shape, cpu, List.of(out, in, w, b), (be, t) -> be.linearGelu(t.get(0), t.get(1), t.get(2), t.get(3)));
                compare("linearAddScaled" + shape, cpu, List.of(x, in, w, b, g),
                        (be, t) -> be.linearAddScaled(t.get(0), t.get(1), t.get(2), t.get(3), t.get(4), Guarded.nan(a, m, o)), Approx.F32_ATOL, Approx.F32_RTOL);
            }
        }
    }

    /**
     * Cin 3 takes the direct kernel, the wider ones im2col + GEMM; odd sizes test the ceil,
     * widths 1-4 and 35 the direct kernel's edge pixels and shifted last tile, Cout 5, 17, 65,
     * 100 its partial vectors and channel blocks. Each shape whole, with GELU, and in bands
     * (first, middle, last rows), channel-last and channel-first (the direct kernel for any
     * Cin), every band also against the reference's whole channel-last output.
     */
    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("isas")
    void patchConvolution(String isa, CpuBackend cpu) {
        SplittableRandom r = new SplittableRandom(4);
        try (Arena a = Arena.ofConfined()) {
            for (int[] s : new int[][] {{1, 1, 1, 3, 5}, {2, 37, 51, 3, 16}, {1, 224, 160, 3, 48}, {1, 56, 56, 32, 64},
                    {2, 13, 7, 24, 17}, {1, 112, 112, 48, 96}, {1, 9, 2, 3, 65}, {1, 6, 35, 3, 100}, {2, 5, 4, 3, 48},
                    {1, 8, 3, 3, 33}, {1, 30, 17, 48, 96}}) {
                int b = s[0], h = s[1], w = s[2], cin = s[3], cout = s[4], oh = (h + 1) / 2, ow = (w + 1) / 2;
                Tensor in = Guarded.random(a, r, 0, 1, b, h, w, cin);
                Tensor wt = Guarded.random(a, r, 0, 1 / Math.sqrt(9.0 * cin), cout, cin, 3, 3), bias = Guarded.random(a, r, 0, 1, cout);
                Tensor whole = Guarded.nan(a, b, oh, ow, cout);
                Tensor planar = Tensor.allocate(a, b, cin, h, w); // the same input channel-first
                for (int i = 0; i < b; i++)
                    for (int y = 0; y < h; y++)
                        for (int x = 0; x < w; x++)
                            for (int c = 0; c < cin; c++) {
                                planar.set((((long) i * cin + c) * h + y) * w + x, in.get((((long) i * h + y) * w + x) * cin + c));
                            }
                for (boolean gelu : new boolean[] {false, true}) {
                    String what = "conv3x3s2 " + Arrays.toString(s) + (gelu ? " gelu" : "");
                    compare(what, cpu, List.of(whole, in, wt, bias), (be, t) -> be.conv3x3s2(t.get(0), t.get(1), 0, t.get(2), t.get(3), gelu));
                    Tensor expected = Tensor.allocate(a, b, oh, ow, cout);
                    ref.conv3x3s2(expected, in, 0, wt, bias, gelu);
                    for (int[] band : new int[][] {{0, Math.min(2, oh)}, {oh / 3, Math.max(1, oh / 2) - oh / 3}, {oh - 1, 1}}) {
                        int first = band[0], rows = band[1];
                        if (rows < 1) continue;
                        Tensor out = Guarded.nan(a, b, rows, ow, cout);
                        String bandWhat = what + " rows [" + first + ", " + (first + rows) + ")";
                        compare(bandWhat, cpu, List.of(out, in, wt, bias), (be, t) -> be.conv3x3s2(t.get(0), t.get(1), first, t.get(2), t.get(3), gelu));
                        compare(bandWhat + " channel-first", cpu, List.of(out, planar, wt, bias),
                                (be, t) -> be.conv3x3s2ChannelsFirst(t.get(0), t.get(1), first, t.get(2), t.get(3), gelu));
                        for (boolean channelsFirst : new boolean[] {false, true}) {
                            if (channelsFirst) {
                                cpu.conv3x3s2ChannelsFirst(out, planar, first, wt, bias, gelu);
                            } else {
                                cpu.conv3x3s2(out, in, first, wt, bias, gelu);
                            }
                            for (int img = 0; img < b; img++) {
                                Tensor want = expected.slice(img, img + 1).reshape((long) oh * ow * cout).slice((long) first * ow * cout, (long) (first + rows) * ow * cout);
                                Approx.assertClose(bandWhat + (channelsFirst ? " channel-first" : "") + " [" + cpu.isa() + "] vs the whole output, image " + img,
                                        want, out.slice(img, img + 1).reshape(want.numel()), Approx.F32_ATOL, Approx.F32_RTOL);
                            }
                        }
                    }
                }
            }
        }
    }

    /** The fused GELU (the direct kernel's store, oneDNN's post-op) against conv, then the gelu op, on the same backend. */
    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("isas")
    void patchConvolutionGeluMatchesConvThenGelu(String isa, CpuBackend cpu) {
        SplittableRandom r = new SplittableRandom(9);
        try (Arena a = Arena.ofConfined()) {
            for (int[] s : new int[][] {{1, 64, 48, 3, 48}, {2, 19, 33, 48, 96}, {1, 16, 16, 96, 192}}) {
                int b = s[0], h = s[1], w = s[2], cin = s[3], cout = s[4];
                Tensor in = Guarded.random(a, r, 0, 1, b, h, w, cin);
                Tensor wt = Guarded.random(a, r, 0, 2 / Math.sqrt(9.0 * cin), cout, cin, 3, 3), bias = Guarded.random(a, r, 0, 1, cout);
                Tensor fused = Tensor.allocate(a, b, (h + 1) / 2, (w + 1) / 2, cout), apart = Tensor.allocate(a, fused.shape());
                cpu.conv3x3s2(fused, in, 0, wt, bias, true);
                cpu.conv3x3s2(apart, in, 0, wt, bias, false);
                cpu.gelu(apart);
                Approx.assertClose("conv3x3s2 gelu " + Arrays.toString(s) + " [" + cpu.isa() + "] fused vs conv + gelu", apart, fused,
                        Approx.F32_ATOL, Approx.F32_RTOL);
            }
        }
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("isas")
    void xca(String isa, CpuBackend cpu) {
        SplittableRandom r = new SplittableRandom(5);
        try (Arena a = Arena.ofConfined()) {
            // (B, N, C, heads): d = 12, 16, 8, 48, 32, 7 and N from 1 to 4096.
            for (int[] s : new int[][] {{2, 16, 48, 4}, {1, 1, 48, 3}, {1, 7, 32, 4}, {1, 197, 384, 8}, {2, 196, 128, 4},
                    {1, 4096, 96, 2}, {1, 35, 21, 3}}) {
                int b = s[0], n = s[1], c = s[2], heads = s[3];
                Tensor qkv = Guarded.random(a, r, 0.1, 1, b, n, 3 * c), tau = Guarded.random(a, r, 1, 0.3, heads);
                Tensor out = Guarded.nan(a, b, n, c);
                compare("xca " + Arrays.toString(s), cpu, List.of(out, qkv, tau), (be, t) -> be.xca(t.get(0), t.get(1), t.get(2), heads));
            }
        }
    }

    /** The whole attention branch on both paths: direct (qkv, XCA, proj) and covariance-folded. */
    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("isas")
    void attentionBranchBothPaths(String isa, CpuBackend cpu) {
        SplittableRandom r = new SplittableRandom(9);
        try (Arena a = Arena.ofConfined()) {
            // (B, N, C, heads), u like a LayerNorm output (mean 0, std 1, then an affine).
            for (int[] s : new int[][] {{1, 1, 48, 4}, {2, 7, 32, 4}, {1, 197, 384, 8}, {2, 196, 128, 4}, {1, 4096, 96, 2}, {1, 35, 21, 3}}) {
                int b = s[0], n = s[1], c = s[2], heads = s[3];
                Tensor u = Guarded.random(a, r, 0.05, 1, b, n, c), x = Guarded.random(a, r, 0, 1, b, n, c);
                Tensor wqkv = Guarded.random(a, r, 0, 1 / Math.sqrt(c), 3L * c, c), bqkv = Guarded.random(a, r, 0, 0.1, 3L * c);
                Tensor tau = Guarded.random(a, r, 1, 0.3, heads), wp = Guarded.random(a, r, 0, 1 / Math.sqrt(c), c, c);
                Tensor bp = Guarded.random(a, r, 0, 0.1, c), g = Guarded.random(a, r, 1, 0.3, c);
                // The folded path only runs from a few hundred tokens on (the crossover), where the
                // norms are sums of many squares; with one token they come from cancelling terms.
                for (long min : n >= 196 ? new long[] {0, Long.MAX_VALUE} : new long[] {Long.MAX_VALUE}) {
                    cpu.covarianceMinTokens = min;
                    try {
                        compare("xcaAddScaled " + (min == 0 ? "folded " : "direct ") + Arrays.toString(s), cpu, List.of(x, u, wqkv, bqkv, tau, wp, bp, g),
                                (be, t) -> be.xcaAddScaled(t.get(0), t.get(1), t.get(2), t.get(3), t.get(4), heads, t.get(5), t.get(6), t.get(7),
                                        Guarded.nan(a, b, n, 3L * c), Guarded.nan(a, b, n, c), Guarded.nan(a, b, n, c)));
                    } finally {
                        cpu.covarianceMinTokens = -1;
                    }
                }
            }
        }
    }

    /** Rows [0, n) cut into bands: one band, then uneven ones, including a 1-row band. */
    private static long[] bandEdges(long n) {
        if (n < 4) return new long[] {0, n};
        return new long[] {0, 1, n / 3, n / 3 + 5 > n ? n : n / 3 + 5, n};
    }

    /** Streamed XCA: Gram and norms accumulated over several bands, then the block-diagonal softmax. */
    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("isas")
    void streamedXca(String isa, CpuBackend cpu) {
        SplittableRandom r = new SplittableRandom(9);
        try (Arena a = Arena.ofConfined()) {
            // (N, C, heads): d = 16, 8, 48, 7, 48 and the 64-token chunks of the kernel cut mid-band.
            for (int[] s : new int[][] {{1, 48, 3}, {7, 32, 4}, {197, 384, 8}, {1000, 21, 3}, {130, 96, 2}, {4096, 96, 2}}) {
                int n = s[0], c = s[1], heads = s[2], d = c / heads;
                Tensor qk = Guarded.random(a, r, 0.1, 1, n, 2L * c), tau = Guarded.random(a, r, 1, 0.3, heads);
                Tensor stats = Guarded.nan(a, heads, d, d + 2L), attn = Guarded.nan(a, c, c);
                long[] edges = bandEdges(n);
                Tensor v = Guarded.random(a, r, 0, 1, n, c), out = Guarded.nan(a, n, c);
                compare("xcaGram+xcaSoftmax+xcaApply " + Arrays.toString(s), cpu, List.of(stats, attn, qk, tau, v, out), (be, t) -> {
                    for (int i = 0; i + 1 < edges.length; i++) {
                        if (edges[i + 1] > edges[i]) be.xcaGram(t.get(0), t.get(2).slice(edges[i], edges[i + 1]), heads, i > 0);
                    }
                    be.xcaSoftmax(t.get(1), t.get(0), t.get(3));
                    for (int i = 0; i + 1 < edges.length; i++) {
                        be.xcaApply(t.get(5).slice(edges[i], edges[i + 1]), t.get(4).slice(edges[i], edges[i + 1]), t.get(1), heads);
                    }
                });
                // Applying a second, different attention through the same buffers sees the new values.
                if (n > 1) {
                    Tensor first = Guarded.random(a, r, 0, 1, c, c), other = Guarded.random(a, r, 0, 1, c, c);
                    for (long i = 0; i < c; i++) {
                        for (long j = 0; j < c; j++) {
                            if (i / d != j / d) {
                                first.set(i * c + j, 0f);
                                other.set(i * c + j, 0f);
                            }
                        }
                    }
                    compare("xcaApply twice " + Arrays.toString(s), cpu, List.of(out, v, first, other), (be, t) -> {
                        be.xcaApply(t.get(0), t.get(1), t.get(2), heads);
                        be.xcaApply(t.get(0), t.get(1), t.get(3), heads);
                    });
                }
            }
        }
    }

    /**
     * Folded class attention: the one-shot op on two images, and its steps over one image's
     * rows chunk by chunk (keys; scores into columns of one (heads, T) buffer; softmax; the
     * weighted row sums; the values' projection), with and without biases and weights output.
     */
    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("isas")
    void foldedClassAttention(String isa, CpuBackend cpu) {
        SplittableRandom r = new SplittableRandom(10);
        try (Arena a = Arena.ofConfined()) {
            // (B, T, C, heads): d = 8, 7, 12, 64 (one head), 48 (xcit_small at 1024x1024: T = 4097).
            for (int[] s : new int[][] {{2, 1, 16, 2}, {2, 7, 21, 3}, {2, 197, 48, 4}, {1, 1025, 64, 1}, {2, 4097, 384, 8}}) {
                int b = s[0], t = s[1], c = s[2], heads = s[3];
                String what = Arrays.toString(s);
                Tensor q = Guarded.random(a, r, 0, 1, b, c), u = Guarded.random(a, r, 0, 1, b, t, c);
                Tensor kvW = Guarded.random(a, r, 0, 1 / Math.sqrt(c), 2L * c, c), kvB = Guarded.random(a, r, 0, 0.1, 2L * c);
                Tensor out = Guarded.nan(a, b, c), weights = Guarded.nan(a, b, heads, t);
                compare("classAttentionFromRows " + what, cpu, List.of(out, weights, q, u, kvW, kvB),
                        (be, x) -> be.classAttentionFromRows(x.get(0), x.get(1), x.get(2), x.get(3), x.get(4), x.get(5), heads, null));
                compare("classAttentionFromRows no weights, no bias " + what, cpu, List.of(out, q, u, kvW),
                        (be, x) -> be.classAttentionFromRows(x.get(0), null, x.get(1), x.get(2), x.get(3), null, heads, null));

                Tensor q0 = q.slice(0, 1).reshape(c), u0 = u.slice(0, 1).reshape(t, c);
                Tensor kW = kvW.slice(0, c), kB = kvB.slice(0, c), vW = kvW.slice(c, 2L * c), vB = kvB.slice(c, 2L * c);
                Tensor keys = Guarded.nan(a, heads, c + 1L), scores = Guarded.nan(a, heads, t);
                Tensor ubar = Guarded.nan(a, heads, c), one = Guarded.nan(a, c);
                long[] edges = bandEdges(t);
                compare("folded steps " + what, cpu, List.of(keys, scores, ubar, one, q0, u0, kW, kB, vW, vB), (be, x) -> {
                    be.classAttentionFoldQuery(x.get(0), x.get(4), x.get(6), x.get(7));
                    for (int i = 0; i + 1 < edges.length; i++) {
                        be.classAttentionFoldedScores(x.get(1), edges[i], x.get(0), x.get(5).slice(edges[i], edges[i + 1]));
                    }
                    be.softmaxRows(x.get(1));
                    for (int i = 0; i + 1 < edges.length; i++) {
                        be.classAttentionFoldedSum(x.get(2), x.get(1), edges[i], x.get(5).slice(edges[i], edges[i + 1]), i > 0);
                    }
                    be.classAttentionFoldedOut(x.get(3), x.get(2), x.get(8), x.get(9));
                });
                Tensor someUbar = Guarded.random(a, r, 0, 1, heads, c);
                compare("folded steps without biases " + what, cpu, List.of(keys, one, q0, kW, someUbar, vW), (be, x) -> {
                    be.classAttentionFoldQuery(x.get(0), x.get(2), x.get(3), null);
                    be.classAttentionFoldedOut(x.get(1), x.get(4), x.get(5), null);
                });
            }
        }
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("isas")
    void lpi(String isa, CpuBackend cpu) {
        SplittableRandom r = new SplittableRandom(6);
        try (Arena a = Arena.ofConfined()) {
            for (int[] s : new int[][] {{1, 1, 1, 8}, {2, 4, 5, 48}, {1, 14, 14, 128}, {1, 7, 3, 37}, {2, 2, 9, 20}, {1, 64, 48, 384}}) {
                int b = s[0], gh = s[1], gw = s[2], c = s[3];
                Tensor in = Guarded.random(a, r, 0, 1, b, (long) gh * gw, c), out = Guarded.nan(a, b, (long) gh * gw, c);
                Tensor w1 = Guarded.random(a, r, 0, 0.3, c, 9), b1 = Guarded.random(a, r, 0, 0.3, c);
                Tensor sc = Guarded.random(a, r, 1, 0.2, c), sh = Guarded.random(a, r, 0, 0.2, c);
                Tensor w2 = Guarded.random(a, r, 0, 0.3, c, 9), b2 = Guarded.random(a, r, 0, 0.3, c);
                Tensor g = Guarded.random(a, r, 0, 0.5, c), x = Guarded.random(a, r, 0, 1, b, (long) gh * gw, c);
                String what = "lpi " + Arrays.toString(s);
                compare(what, cpu, List.of(out, in, w1, b1, sc, sh, w2, b2),
                        (be, t) -> be.lpi(t.get(0), t.get(1), gh, gw, t.get(2), t.get(3), t.get(4), t.get(5), t.get(6), t.get(7)));
                compare(what + " residual", cpu, List.of(x, in, w1, b1, sc, sh, w2, b2, g),
                        (be, t) -> be.lpiAddScaled(t.get(0), t.get(1), gh, gw, t.get(2), t.get(3), t.get(4), t.get(5), t.get(6), t.get(7),
                                t.get(8), Guarded.nan(a, b, (long) gh * gw, c)));
            }
        }
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("isas")
    void classAttentionAndRows(String isa, CpuBackend cpu) {
        SplittableRandom r = new SplittableRandom(7);
        try (Arena a = Arena.ofConfined()) {
            for (int[] s : new int[][] {{1, 1, 16, 2}, {2, 197, 48, 4}, {1, 8, 21, 3}, {2, 4097, 384, 8}}) {
                int b = s[0], t = s[1], c = s[2], heads = s[3];
                Tensor q = Guarded.random(a, r, 0, 1, b, c), kv = Guarded.random(a, r, 0, 1, b, t, 2L * c);
                Tensor out = Guarded.nan(a, b, c), weights = Guarded.nan(a, b, heads, t);
                compare("classAttention " + Arrays.toString(s), cpu, List.of(out, weights, q, kv),
                        (be, x) -> be.classAttention(x.get(0), x.get(1), x.get(2), x.get(3), heads));
                compare("classAttention no weights", cpu, List.of(out, q, kv), (be, x) -> be.classAttention(x.get(0), null, x.get(1), x.get(2), heads));
                Tensor rows = Guarded.random(a, r, 0, 1, b, t, c), one = Guarded.random(a, r, 0, 1, b, c), first = Guarded.random(a, r, 0, 1, c);
                int row = t - 1;
                compare("gatherRow", cpu, List.of(one, rows), (be, x) -> be.gatherRow(x.get(0), x.get(1), row));
                compare("scatterRow", cpu, List.of(rows, one), (be, x) -> be.scatterRow(x.get(0), row, x.get(1)));
                Tensor prepended = Guarded.nan(a, b, t + 1L, c);
                compare("prependRow", cpu, List.of(prepended, first, rows), (be, x) -> be.prependRow(x.get(0), x.get(1), x.get(2)));
            }
        }
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("isas")
    void denseOps(String isa, CpuBackend cpu) {
        SplittableRandom r = new SplittableRandom(8);
        try (Arena a = Arena.ofConfined()) {
            for (int[] s : new int[][] {{1, 1, 1, 3, 5}, {2, 5, 3, 48, 17}, {1, 14, 14, 128, 128}}) {
                int b = s[0], h = s[1], w = s[2], cin = s[3], cout = s[4];
                Tensor in = Guarded.random(a, r, 0, 1, b, h, w, cin), wt = Guarded.random(a, r, 0, 0.2, cin, cout, 2, 2);
                Tensor bias = Guarded.random(a, r, 0, 1, cout), out = Guarded.nan(a, b, 2L * h, 2L * w, cout);
                compare("convTranspose2x2 " + Arrays.toString(s), cpu, List.of(out, in, wt, bias),
                        (be, t) -> be.convTranspose2x2(t.get(0), t.get(1), t.get(2), t.get(3)));
            }
            for (int[] s : new int[][] {{1, 2, 2, 1, 2}, {2, 15, 9, 37, 2}, {1, 14, 14, 128, 4}, {1, 5, 5, 3, 1}}) {
                int b = s[0], h = s[1], w = s[2], c = s[3], k = s[4];
                Tensor in = Guarded.random(a, r, 0, 1, b, h, w, c), out = Guarded.nan(a, b, h / k, w / k, c);
                if (in.numel() > 5) in.set(5, Float.NaN);
                try (Arena ref = Arena.ofConfined()) {
                    Tensor expected = Guarded.nan(ref, b, h / k, w / k, c);
                    this.ref.maxPool(expected, in, k);
                    cpu.maxPool(out, in, k);
                    for (long i = 0; i < out.numel(); i++) {
                        assertEquals(Float.floatToIntBits(expected.get(i)), Float.floatToIntBits(out.get(i)), "maxPool [" + i + "] " + Arrays.toString(s));
                    }
                    assertTrue(Guarded.intact(out));
                }
            }
        }
    }

    /** bf16: LayerNorm written straight as bf16 for fc1 gives the bits of LN, then the MLP (which rounds its input). */
    @Test
    void bf16LayerNormMlpEqualsTheUnfusedOps() {
        assumeTrue(CpuInfo.detect().has("avx512_bf16"), "needs avx512_bf16");
        SplittableRandom r = new SplittableRandom(8);
        try (CpuBackend cpu = new CpuBackend(2, Precision.BF16); Arena a = Arena.ofConfined()) {
            for (int m : new int[] {1, 37, 300}) {
                int c = 40, h = 160;
                Tensor x = Guarded.random(a, r, 0.5, 2, m, c), ln = Guarded.random(a, r, 1, 0.3, c), lb = Guarded.random(a, r, 0, 0.3, c);
                Tensor w1 = Guarded.random(a, r, 0, 0.2, h, c), b1 = Guarded.random(a, r, 0, 0.2, h);
                Tensor w2 = Guarded.random(a, r, 0, 0.2, c, h), b2 = Guarded.random(a, r, 0, 0.2, c), g = Guarded.random(a, r, 0, 0.5, c);
                Tensor fused = Guarded.copy(a, x), unfused = Guarded.copy(a, x), u = Guarded.nan(a, m, c);
                cpu.layerNormMlpAddScaled(fused, Guarded.nan(a, m, c), ln, lb, 1e-6f, w1, b1, w2, b2, g, Guarded.nan(a, m, h),
                        Guarded.nan(a, m, c));
                cpu.layerNorm(u, unfused, ln, lb, 1e-6f);
                cpu.mlpAddScaled(unfused, u, w1, b1, w2, b2, g, Guarded.nan(a, m, h), Guarded.nan(a, m, c));
                for (long i = 0; i < x.numel(); i++) {
                    assertEquals(unfused.get(i), fused.get(i), "m " + m + ", element " + i);
                }
                assertTrue(Math.abs(fused.get(0) - x.get(0)) > 0, "the MLP changed nothing");
                assertTrue(Guarded.intact(fused));
            }
        }
    }

    /** Streamed bands give one weight several row counts; its packed copy must exist once. */
    @Test
    void rowCountsSharePackedWeights() {
        SplittableRandom r = new SplittableRandom(5);
        try (CpuBackend cpu = new CpuBackend(); Arena a = Arena.ofConfined()) {
            Tensor w = Guarded.random(a, r, 0, 0.05, 1536, 384), b = Guarded.random(a, r, 0, 1, 1536);
            long before = cpu.packedWeightBytes();
            for (int m : new int[] {896, 640, 897}) {
                Tensor in = Guarded.random(a, r, 0, 1, m, 384), out = Guarded.nan(a, m, 1536);
                cpu.linearGelu(out, in, w, b);
                if (m == 896) before = cpu.packedWeightBytes();
            }
            assertTrue(before >= 1536L * 384 * Float.BYTES, "packed " + before);
            assertEquals(before, cpu.packedWeightBytes(), "a second and third row count packed the weight again");
        }
    }

    @Test
    void badArgumentsBecomeClearExceptions() {
        CpuBackend cpu = cpus.get(0);
        try (Arena a = Arena.ofConfined()) {
            Tensor x = Tensor.allocate(a, 2, 3, 7);
            assertThrows(IllegalArgumentException.class, () -> cpu.xca(Tensor.allocate(a, 2, 3, 7), Tensor.allocate(a, 2, 3, 21), Tensor.allocate(a, 2), 2));
            assertThrows(IllegalArgumentException.class, () -> cpu.layerNorm(x, Tensor.allocate(a, 2, 3, 6), Tensor.allocate(a, 7), Tensor.allocate(a, 7), 1e-6f));
            NativeException e = assertThrows(NativeException.class, () -> cpu.gatherRow(Tensor.allocate(a, 2, 7), x, 5));
            assertTrue(e.getMessage().contains("row"), e.getMessage());
            // Folded class attention: heads must divide C; chunks must fit the (heads, T) buffer and match C.
            Tensor q = Tensor.allocate(a, 2, 12), u = Tensor.allocate(a, 2, 5, 12), kvW = Tensor.allocate(a, 24, 12), out = Tensor.allocate(a, 2, 12);
            e = assertThrows(NativeException.class, () -> cpu.classAttentionFromRows(out, null, q, u, kvW, null, 5, null));
            assertTrue(e.getMessage().contains("heads"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> cpu.classAttentionFromRows(out, null, q, u, Tensor.allocate(a, 12, 12), null, 3, null));
            Tensor keys = Tensor.allocate(a, 3, 13), scores = Tensor.allocate(a, 3, 5), rows = u.slice(0, 1).reshape(5, 12);
            assertThrows(IllegalArgumentException.class, () -> cpu.classAttentionFoldedScores(scores, 1, keys, rows));
            assertThrows(IllegalArgumentException.class, () -> cpu.classAttentionFoldedSum(Tensor.allocate(a, 3, 11), scores, 0, rows, false));
        }
    }
}
