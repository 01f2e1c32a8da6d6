package org.xcit4j.bindings;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xcit4j.bindings.xcit.xcit_h;

/** xcit_cpu_layernorm_f32 through the binding against a plain double loop. */
class LayerNormTest {
    /**
     * The C op accumulates in double and rounds once, so it is within an ulp of this
     * reference (~1e-7 for outputs of a few units); 1e-5 is the bound the project states
     * for fp32 LayerNorm at cols <= 384 and still catches any indexing or formula slip.
     */
    private static final double ATOL = 1e-5;
    private static final float EPS = 1e-6f;
    private static final int GUARD = 16;

    private static double[] reference(float[] x, float[] gamma, float[] beta, int rows, int cols) {
        double[] y = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double mean = 0;
            for (int c = 0; c < cols; c++) mean += x[r * cols + c];
            mean /= cols;
            double var = 0;
            for (int c = 0; c < cols; c++) var += (x[r * cols + c] - mean) * (x[r * cols + c] - mean);
            var /= cols;
            for (int c = 0; c < cols; c++) {
                y[r * cols + c] = (x[r * cols + c] - mean) / Math.sqrt(var + EPS) * gamma[c] + beta[c];
            }
        }
        return y;
    }

    /** A buffer of n floats (middle) inside GUARD NaNs on each side (all). */
    private record Guarded(MemorySegment all, MemorySegment middle) {
        Guarded(Arena arena, float[] values) {
            this(arena.allocate(JAVA_FLOAT, values.length + 2L * GUARD), values);
        }

        private Guarded(MemorySegment all, float[] values) {
            this(all.fill((byte) 0xFF), all.asSlice(GUARD * 4L, values.length * 4L)); // 0xFFFFFFFF is a NaN
            MemorySegment.copy(values, 0, middle, JAVA_FLOAT, 0, values.length);
        }

        void assertGuardsIntact(String what) {
            long n = middle.byteSize() / 4;
            for (int i = 0; i < GUARD; i++) {
                assertTrue(Float.isNaN(all.getAtIndex(JAVA_FLOAT, i)), what + ": guard before written");
                assertTrue(Float.isNaN(all.getAtIndex(JAVA_FLOAT, GUARD + n + i)), what + ": guard after written");
            }
        }
    }

    @ParameterizedTest(name = "rows={0} cols={1} offset={2} inPlace={3}")
    @CsvSource({"0,5,0,false", "1,1,0,false", "6,1,3,true", "5,7,0,false", "5,7,50,true", "3,384,0,false",
            "197,384,-20,false", "8,384,100,true", "13,192,0,false", "2,33,1,false"})
    void matchesDoubleReference(int rows, int cols, float offset, boolean inPlace) {
        SplittableRandom random = new SplittableRandom(31L * rows + cols);
        float[] x = new float[rows * cols];
        float[] gamma = new float[cols];
        float[] beta = new float[cols];
        for (int i = 0; i < x.length; i++) x[i] = offset + (float) random.nextDouble(-3, 3);
        for (int c = 0; c < cols; c++) {
            gamma[c] = (float) random.nextDouble(0.5, 1.5);
            beta[c] = (float) random.nextDouble(-0.5, 0.5);
        }
        double[] want = reference(x, gamma, beta, rows, cols);

        try (Arena arena = Arena.ofConfined(); NativeContext c = new NativeContext()) {
            Guarded in = new Guarded(arena, x);
            Guarded outBuffer = inPlace ? in : new Guarded(arena, new float[x.length]);
            MemorySegment out = outBuffer.middle();
            int status = xcit_h.xcit_cpu_layernorm_f32(c.ctx, out, in.middle(), new Guarded(arena, gamma).middle(),
                    new Guarded(arena, beta).middle(), rows, cols, EPS);
            assertEquals(xcit_h.XCIT_OK(), status, c.lastError());

            double worst = 0;
            int worstAt = -1;
            for (int i = 0; i < x.length; i++) {
                double err = Math.abs(out.getAtIndex(JAVA_FLOAT, i) - want[i]);
                if (!(err <= worst)) { // also catches NaN
                    worst = err;
                    worstAt = i;
                }
            }
            final double w = worst;
            final int at = worstAt;
            assertTrue(worst <= ATOL, () -> "max abs error " + w + " at " + at + ": got "
                    + out.getAtIndex(JAVA_FLOAT, at) + " want " + want[at]);
            outBuffer.assertGuardsIntact("out");
            in.assertGuardsIntact("in");
        }
    }

    @Test
    void invalidArgumentsNameTheCulprit() {
        try (Arena arena = Arena.ofConfined(); NativeContext c = new NativeContext()) {
            MemorySegment buf = arena.allocate(JAVA_FLOAT, 64);
            MemorySegment nul = MemorySegment.NULL;
            assertInvalid(c, xcit_h.xcit_cpu_layernorm_f32(c.ctx, buf, buf, nul, buf, 2, 8, EPS), "gamma is NULL");
            assertInvalid(c, xcit_h.xcit_cpu_layernorm_f32(c.ctx, buf, nul, buf, buf, 2, 8, EPS), "in is NULL");
            assertInvalid(c, xcit_h.xcit_cpu_layernorm_f32(c.ctx, buf, buf, buf, buf, -2, 8, EPS), "rows = -2");
            assertInvalid(c, xcit_h.xcit_cpu_layernorm_f32(c.ctx, buf, buf, buf, buf, 2, 0, EPS), "cols = 0");
            assertInvalid(c, xcit_h.xcit_cpu_layernorm_f32(c.ctx, buf, buf, buf, buf, 2, 8, Float.NaN), "eps");
            assertEquals(xcit_h.XCIT_ERR_INVALID_ARGUMENT(),
                    xcit_h.xcit_cpu_layernorm_f32(nul, buf, buf, buf, buf, 2, 8, EPS), "NULL ctx");
        }
    }

    private static void assertInvalid(NativeContext c, int status, String text) {
        assertEquals("XCIT_ERR_INVALID_ARGUMENT", NativeContext.statusName(status), c.lastError());
        assertTrue(c.lastError().contains(text), () -> "'" + c.lastError() + "' lacks '" + text + "'");
        assertTrue(c.lastError().startsWith("xcit_cpu_layernorm_f32: "), c.lastError());
    }
}
