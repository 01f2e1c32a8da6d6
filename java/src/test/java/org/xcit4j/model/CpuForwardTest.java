package org.xcit4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xcit4j.Approx;
import org.xcit4j.backend.cpu.CpuBackend;
import org.xcit4j.backend.java.JavaBackend;
import org.xcit4j.tensor.Tensor;

/**
 * The native CPU forward against the Java reference on random-weight models at 224, 384,
 * 1024 x 768 and 170 x 2000 (widths and depths cut where the reference would take minutes), with the golden
 * criterion of {@link Approx#assertGolden}; and its steady state allocating nothing.
 */
class CpuForwardTest {

    @ParameterizedTest(name = "C {1} depth {2} heads {3} p{0} batch {5} {6}x{7}")
    @CsvSource({
        "16, 128, 12, 4, false, 1, 224, 224", // xcit_nano_12_p16
        "16, 128, 2, 4, false, 2, 384, 384",
        "8, 64, 2, 4, true, 1, 200, 136",
        "16, 48, 1, 3, true, 1, 1024, 768",
        "16, 48, 1, 3, true, 2, 170, 2000"}) // patch-embedding bands of 9 + 2 token rows, odd stage heights, batch 2
    void matchesTheJavaReference(int patch, int dim, int depth, int heads, boolean tokensNorm, int batch, int h, int w) {
        XcitConfig config = XcitConfig.of(patch, dim, depth, heads, 1000, tokensNorm);
        try (Xcit model = Xcit.random(config, 7L * dim + depth);
             JavaBackend java = new JavaBackend();
             CpuBackend cpu = new CpuBackend(2);
             Arena arena = Arena.ofConfined()) {
            Tensor input = randomInput(arena, batch, h, w);
            try (Session ref = model.session(java, batch, h, w); Session got = model.session(cpu, batch, h, w)) {
                Session.Outputs expected = ref.run(input);
                Session.Outputs actual = got.run(input);
                Approx.assertGolden("logits", expected.logits(), actual.logits());
                Approx.assertGolden("features", expected.features(), actual.features());
                Approx.assertGolden("tokens", expected.tokens(), actual.tokens());
            }
        }
    }

    /**
     * bf16 GEMM inputs against fp32 on the same backend: logits within Approx.BF16_REL_TO_MAX
     * and the same top-1 class for (almost) every random input. Needs avx512_bf16.
     */
    @Test
    void bf16StaysCloseToFp32() {
        org.junit.jupiter.api.Assumptions.assumeTrue(org.xcit4j.backend.cpu.CpuInfo.detect().has("avx512_bf16"), "no avx512_bf16 on this CPU");
        XcitConfig config = XcitConfig.of(16, 128, 4, 4, 1000, false);
        // 448 x 448 gives 784 tokens, past the bf16 crossover: the folded attention runs too.
        int batch = 8, agree = 0, size = 448;
        try (Xcit model = Xcit.random(config, 5);
             CpuBackend fp32 = new CpuBackend(2);
             CpuBackend bf16 = new CpuBackend(2, org.xcit4j.backend.Precision.BF16);
             Arena arena = Arena.ofConfined();
             Session a = model.session(fp32, batch, size, size);
             Session b = model.session(bf16, batch, size, size)) {
            Tensor input = randomInput(arena, batch, size, size);
            Tensor ref = a.run(input).logits(), got = b.run(input).logits();
            double maxRef = 0;
            for (long i = 0; i < ref.numel(); i++) maxRef = Math.max(maxRef, Math.abs(ref.get(i)));
            Approx.assertClose("bf16 logits", ref, got, Approx.BF16_REL_TO_MAX * Math.max(1, maxRef), 0);
            for (int img = 0; img < batch; img++) {
                if (argmax(ref, img) == argmax(got, img)) agree++;
            }
        }
        org.junit.jupiter.api.Assertions.assertTrue(agree >= batch - 1, "top-1 agreement " + agree + "/" + batch);
    }

    private static int argmax(Tensor logits, int row) {
        int classes = logits.shape().size(1), best = 0;
        for (int k = 1; k < classes; k++) {
            if (logits.get((long) row * classes + k) > logits.get((long) row * classes + best)) best = k;
        }
        return best;
    }

    /** After warm-up, Session.run on the cpu backend allocates no Java heap at all. */
    @Test
    void steadyStateRunsAllocateNothingOnTheHeap() {
        XcitConfig config = XcitConfig.of(16, 64, 2, 4, 10, true);
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (Xcit model = Xcit.random(config, 3);
             CpuBackend cpu = new CpuBackend(2);
             Arena arena = Arena.ofConfined();
             Session session = model.session(cpu, 1, 96, 64)) {
            Tensor input = randomInput(arena, 1, 96, 64);
            for (int i = 0; i < 200; i++) session.run(input); // primitives created, code compiled
            // The JIT may still be finishing compilations (a machine under load delays them),
            // and code not yet compiled can allocate where compiled code does not; an
            // allocation per run would show in every window, so the best window must be 0.
            long best = Long.MAX_VALUE;
            for (int window = 0; window < 8 && best > 0; window++) {
                long before = threads.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < 50; i++) session.run(input);
                best = Math.min(best, threads.getCurrentThreadAllocatedBytes() - before);
            }
            assertEquals(0, best, "bytes allocated by 50 steady-state runs (best of 8 windows)");
        }
    }

    static Tensor randomInput(Arena arena, int batch, int h, int w) {
        SplittableRandom r = new SplittableRandom(batch * 31L + h * 7L + w);
        Tensor t = Tensor.allocate(arena, batch, 3, h, w);
        for (long i = 0; i < t.numel(); i++) t.set(i, (float) r.nextGaussian());
        return t;
    }
}
