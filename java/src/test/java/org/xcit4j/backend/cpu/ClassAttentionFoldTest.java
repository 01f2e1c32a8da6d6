package org.xcit4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.xcit4j.Approx;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.Precision;
import org.xcit4j.backend.java.JavaBackend;
import org.xcit4j.bindings.xcit.xcit_h;
import org.xcit4j.tensor.Tensor;

/**
 * Folded class attention ({@link Backend#foldsClassAttention}) against the route it replaces
 * on the same backend: k and v of every row by a Linear, then {@link Backend#classAttention}.
 * The Java reference and the CPU backend with each kernel set this CPU runs; T = 1, 7, 197,
 * 1025, 4097 (xcit_small at 1024x1024); 1 to 8 heads; batch 2; LN-like rows and weights of
 * scale C^-1/2, so the scores spread over a few units as in a trained model. The two routes
 * differ only by float32 rounding (the reference: by double rounding), hence the op tolerance.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClassAttentionFoldTest {
    private final List<Backend> backends = new ArrayList<>();

    @BeforeAll
    void open() {
        backends.add(new JavaBackend());
        int best = xcit_h.xcit_cpu_best_isa();
        for (int isa = best; isa >= xcit_h.XCIT_ISA_GENERIC(); isa--) backends.add(new CpuBackend(2, Precision.FP32, null, isa));
    }

    @AfterAll
    void close() {
        backends.forEach(Backend::close);
    }

    Stream<Arguments> backends() {
        return backends.stream().map(b -> Arguments.of(b instanceof CpuBackend cpu ? "cpu " + cpu.isa() : b.name(), b));
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("backends")
    void foldedEqualsProjectingKeysAndValues(String name, Backend be) {
        assertTrue(be.foldsClassAttention());
        SplittableRandom r = new SplittableRandom(23);
        // One arena for the whole test: the CPU backend packs each Linear weight once by identity.
        try (Arena a = Arena.ofShared()) {
            for (int[] s : new int[][] {{2, 1, 16, 2}, {2, 7, 21, 3}, {2, 197, 48, 4}, {2, 1025, 64, 1}, {2, 4097, 384, 8}}) {
                int b = s[0], t = s[1], c = s[2], heads = s[3];
                String what = name + " " + Arrays.toString(s);
                Tensor q = Guarded.random(a, r, 0, 1, b, c), u = Guarded.random(a, r, 0, 1, b, t, c);
                Tensor kvW = Guarded.random(a, r, 0, 1 / Math.sqrt(c), 2L * c, c), kvB = Guarded.random(a, r, 0, 0.1, 2L * c);
                for (Tensor bias : Arrays.asList(kvB, null)) {
                    Tensor kv = Guarded.nan(a, b, t, 2L * c), want = Guarded.nan(a, b, c), wantWeights = Guarded.nan(a, b, heads, t);
                    be.linear(kv, u, kvW, bias);
                    be.classAttention(want, wantWeights, q, kv, heads);

                    Tensor got = Guarded.nan(a, b, c), gotWeights = Guarded.nan(a, b, heads, t), noWeights = Guarded.nan(a, b, c);
                    be.classAttentionFromRows(got, gotWeights, q, u, kvW, bias, heads, null);
                    be.classAttentionFromRows(noWeights, null, q, u, kvW, bias, heads, null);
                    String how = what + (bias == null ? " no bias" : " bias");
                    Approx.assertClose(how + " out", want, got, Approx.F32_ATOL, Approx.F32_RTOL);
                    Approx.assertClose(how + " weights", wantWeights, gotWeights, Approx.F32_ATOL, Approx.F32_RTOL);
                    // Without the weights output the scores go to scratch; the arithmetic is the same.
                    Approx.assertClose(how + " without weights", got, noWeights, 0, 0);
                    for (Tensor x : List.of(got, gotWeights, noWeights)) assertTrue(Guarded.intact(x), how + ": guard band overwritten");
                }
            }
        }
    }
}
