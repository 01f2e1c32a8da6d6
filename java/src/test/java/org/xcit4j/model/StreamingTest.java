package org.xcit4j.model;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xcit4j.Approx;
import org.xcit4j.backend.java.JavaBackend;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Streamed execution (bands with halos, chunked XCA) against the unchunked plan on the same
 * model and input. They differ only in how sums over tokens are split (Gram per band, added
 * in float32), so they agree to the float32 op tolerance.
 */
class StreamingTest {

    private static Tensor input(Arena arena, long seed, int b, int h, int w) {
        SplittableRandom r = new SplittableRandom(seed);
        Tensor t = Tensor.allocate(arena, Shape.of(b, 3, h, w));
        for (long i = 0; i < t.numel(); i++) t.set(i, (float) r.nextGaussian());
        return t;
    }

    @ParameterizedTest(name = "p{0} C{1} B{2} {3}x{4} band {5}")
    @CsvSource({"16, 32, 2, 100, 60, 1", "16, 32, 1, 129, 97, 3", "8, 32, 1, 70, 42, 2", "8, 16, 2, 37, 51, 4",
            "16, 32, 1, 64, 64, 64"})
    void streamedEqualsFull(int patch, int c, int batch, int h, int w, int band) {
        XcitConfig cfg = XcitConfig.of(patch, c, 3, 4, 10, true);
        try (Xcit model = Xcit.random(cfg, 5); JavaBackend backend = new JavaBackend(); Arena arena = Arena.ofConfined()) {
            Tensor x = input(arena, 7, batch, h, w);
            SessionOptions full = SessionOptions.DEFAULT.withExecution(SessionOptions.Execution.FULL);
            SessionOptions streamed = SessionOptions.DEFAULT.withExecution(SessionOptions.Execution.STREAMED).withBandRows(band);
            try (Session a = model.session(backend, batch, h, w, full); Session b = model.session(backend, batch, h, w, streamed)) {
                assertFalse(a.streamed());
                assertTrue(b.streamed());
                Session.Outputs ra = a.run(x), rb = b.run(x);
                Approx.assertClose("tokens", ra.tokens(), rb.tokens(), Approx.F32_ATOL, Approx.F32_RTOL);
                Approx.assertClose("logits", ra.logits(), rb.logits(), Approx.F32_ATOL, Approx.F32_RTOL);
                Approx.assertClose("cls attention", ra.clsAttention(), rb.clsAttention(), Approx.F32_ATOL, Approx.F32_RTOL);
            }
        }
    }

    /**
     * The streamed class-attention stage (chunks of token rows, the patch rows recomputed per
     * block) on both host backends, tokens_norm true and false, batch 1 and 2, chunks of one
     * row up to all rows: logits, features, tokens and the cls-attn maps equal the full plan's.
     */
    @ParameterizedTest(name = "{0} tokens_norm {1} B{2} band {3}")
    @CsvSource({"java, true, 2, 1", "java, false, 2, 3", "java, false, 1, 64", "cpu, true, 2, 2", "cpu, false, 2, 1",
            "cpu, true, 1, 5", "cpu, false, 1, 64"})
    void streamedClassAttentionEqualsFull(String device, boolean tokensNorm, int batch, int band) {
        XcitConfig cfg = XcitConfig.of(16, 48, 2, 4, 7, tokensNorm);
        int h = 90, w = 75;
        try (Xcit model = Xcit.random(cfg, 11);
             org.xcit4j.backend.Backend backend = device.equals("cpu") ? new org.xcit4j.backend.cpu.CpuBackend(2) : new JavaBackend();
             Arena arena = Arena.ofConfined()) {
            Tensor x = input(arena, 13, batch, h, w);
            SessionOptions full = SessionOptions.DEFAULT.withExecution(SessionOptions.Execution.FULL);
            SessionOptions streamed = SessionOptions.DEFAULT.withExecution(SessionOptions.Execution.STREAMED).withBandRows(band);
            try (Session a = model.session(backend, batch, h, w, full); Session b = model.session(backend, batch, h, w, streamed)) {
                assertTrue(b.streamed());
                Session.Outputs ra = a.run(x), rb = b.run(x);
                String what = device + " tokens_norm " + tokensNorm + " B" + batch + " band " + band + ": ";
                Approx.assertClose(what + "tokens", ra.tokens(), rb.tokens(), Approx.F32_ATOL, Approx.F32_RTOL);
                Approx.assertClose(what + "features", ra.features(), rb.features(), Approx.F32_ATOL, Approx.F32_RTOL);
                Approx.assertClose(what + "logits", ra.logits(), rb.logits(), Approx.F32_ATOL, Approx.F32_RTOL);
                Approx.assertClose(what + "cls attention", ra.clsAttention(), rb.clsAttention(), Approx.F32_ATOL, Approx.F32_RTOL);
                // A second run gives the same (nothing carried over from the first).
                float first = rb.logits().get(0);
                b.run(x);
                org.junit.jupiter.api.Assertions.assertEquals(first, rb.logits().get(0));
            }
        }
    }

    @Test
    void autoStreamsAboveTheBudgetAndStreamingNeedsLessMemory() {
        XcitConfig cfg = XcitConfig.of(16, 64, 2, 4, 0, true);
        try (Xcit model = Xcit.random(cfg, 3); JavaBackend backend = new JavaBackend()) {
            SessionOptions tight = SessionOptions.DEFAULT.withMemoryBudget(1 << 20).withBandRows(4);
            SessionOptions full = SessionOptions.DEFAULT.withExecution(SessionOptions.Execution.FULL);
            try (Session small = model.session(backend, 1, 64, 64, tight);
                 DenseSession big = model.denseSession(backend, 1, 512, 512, DenseOptions.DEFAULT, tight);
                 DenseSession bigFull = model.denseSession(backend, 1, 512, 512, DenseOptions.DEFAULT, full)) {
                assertFalse(small.streamed(), "a 64x64 plan fits in 1 MiB");
                assertTrue(big.streamed(), "a 512x512 plan does not");
                // The trunk's full plan holds the channel-last image and every patch-embedding stage.
                assertTrue(big.activationBytes() * 2 < bigFull.activationBytes(),
                        big.activationBytes() + " streamed vs " + bigFull.activationBytes() + " full");
            }
        }
    }
}
