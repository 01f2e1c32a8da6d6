package org.xcit4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xcit4j.Approx;
import org.xcit4j.backend.NativeContext;
import org.xcit4j.backend.NativeException;
import org.xcit4j.backend.java.JavaBackend;
import org.xcit4j.bindings.xcit.xcit_h;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/** The C LayerNorm (libxcit through FFM) against the Java reference, on awkward shapes. */
class NativeLayerNormTest {

    @ParameterizedTest(name = "rows {0} x cols {1}")
    @CsvSource({"1, 1", "7, 7", "197, 384", "196, 128", "3, 1000", "0, 48"})
    void matchesJavaReference(int rows, int cols) {
        try (Arena arena = Arena.ofConfined(); NativeContext ctx = new NativeContext(); JavaBackend java = new JavaBackend()) {
            SplittableRandom r = new SplittableRandom(rows * 1000L + cols);
            Tensor in = random(arena, r, Shape.of(rows, cols), 3.0, 2.0);
            Tensor gamma = random(arena, r, Shape.of(cols), 1.0, 0.2);
            Tensor beta = random(arena, r, Shape.of(cols), 0.0, 0.1);
            Tensor expected = Tensor.allocate(arena, Shape.of(rows, cols));
            java.layerNorm(expected, in, gamma, beta, 1e-6f);
            Tensor got = Tensor.allocate(arena, Shape.of(rows, cols));
            ctx.check(xcit_h.xcit_cpu_layernorm_f32(ctx.handle(), got.segment(), in.segment(), gamma.segment(), beta.segment(),
                    rows, cols, 1e-6f), "xcit_cpu_layernorm_f32");
            Approx.assertClose("layernorm " + rows + "x" + cols, expected, got, Approx.F32_ATOL, Approx.F32_RTOL);
        }
    }

    @Test
    void errorsBecomeExceptionsWithTheNativeText() {
        try (Arena arena = Arena.ofConfined(); NativeContext ctx = new NativeContext()) {
            Tensor t = Tensor.allocate(arena, Shape.of(2, 4));
            NativeException e = assertThrows(NativeException.class, () -> ctx.check(xcit_h.xcit_cpu_layernorm_f32(ctx.handle(),
                    t.segment(), t.segment(), java.lang.foreign.MemorySegment.NULL, t.segment(), 2, 4, 1e-6f), "layernorm"));
            assertEquals(xcit_h.XCIT_ERR_INVALID_ARGUMENT(), e.status());
            assertTrue(e.getMessage().contains("gamma"), e.getMessage());
        }
    }

    private static Tensor random(Arena arena, SplittableRandom r, Shape shape, double mean, double std) {
        Tensor t = Tensor.allocate(arena, shape);
        for (long i = 0; i < t.numel(); i++) t.set(i, (float) (mean + std * r.nextGaussian()));
        return t;
    }
}
