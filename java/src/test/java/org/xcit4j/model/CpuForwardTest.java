package org.xcit4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xcit4j.Approx;
import org.xcit4j.backend.CpuBackend;
import org.xcit4j.backend.JavaBackend;
import org.xcit4j.tensor.Tensor;

/**
 * The native CPU forward against the Java reference on random-weight models at 224, 384 and
 * 1024 x 768 (widths and depths cut where the reference would take minutes), with the golden
 * criterion of {@link Approx#assertGolden}; and its steady state allocating nothing.
 */
class CpuForwardTest {

    @ParameterizedTest(name = "C {1} depth {2} heads {3} p{0} batch {5} {6}x{7}")
    @CsvSource({
        "16, 128, 12, 4, false, 1, 224, 224", // xcit_nano_12_p16
        "16, 128, 2, 4, false, 2, 384, 384",
        "8, 64, 2, 4, true, 1, 200, 136",
        "16, 48, 1, 3, true, 1, 1024, 768"})
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
            long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 100; i++) session.run(input);
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            assertEquals(0, allocated, "bytes allocated by 100 steady-state runs");
        }
    }

    static Tensor randomInput(Arena arena, int batch, int h, int w) {
        SplittableRandom r = new SplittableRandom(batch * 31L + h * 7L + w);
        Tensor t = Tensor.allocate(arena, batch, 3, h, w);
        for (long i = 0; i < t.numel(); i++) t.set(i, (float) r.nextGaussian());
        return t;
    }
}
