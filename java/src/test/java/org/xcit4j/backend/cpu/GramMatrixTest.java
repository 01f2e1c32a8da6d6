package org.xcit4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xcit4j.backend.NativeContext;

/** The block-triangular u^T u against a double-precision product, set and accumulated. */
class GramMatrixTest {

    @ParameterizedTest
    @CsvSource({"1, 48", "37, 100", "500, 384", "129, 200"})
    void equalsTheFullProduct(int m, int c) {
        try (NativeContext ctx = new NativeContext(); Arena arena = Arena.ofConfined()) {
            Dnnl dnnl = new Dnnl(new CpuWeights());
            Dnnl.Scope scope = dnnl.scope();
            try {
                MemorySegment u1 = random(arena, (long) m * c, 1), u2 = random(arena, (long) m * c, 2);
                MemorySegment s = random(arena, (long) c * c, 3); // garbage below the diagonal must not survive
                new GramMatrix(scope, m, c, false, false).run(ctx, u1, s, false);
                assertClose(s, reference(u1, null, m, c), c, "set");
                new GramMatrix(scope, m, c, true, false).run(ctx, u2, s, false);
                assertClose(s, reference(u1, u2, m, c), c, "accumulated");
            } finally {
                dnnl.close();
            }
        }
    }

    private static MemorySegment random(Arena arena, long n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        MemorySegment seg = arena.allocate(n * Float.BYTES, 64);
        for (long i = 0; i < n; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextDouble(-1, 1));
        return seg;
    }

    /** u1^T u1 (+ u2^T u2) in double. */
    private static double[] reference(MemorySegment u1, MemorySegment u2, int m, int c) {
        double[] s = new double[c * c];
        for (MemorySegment u : new MemorySegment[] {u1, u2}) {
            if (u == null) continue;
            for (int r = 0; r < m; r++) {
                for (int i = 0; i < c; i++) {
                    double ui = u.getAtIndex(ValueLayout.JAVA_FLOAT, (long) r * c + i);
                    for (int j = 0; j < c; j++) s[i * c + j] += ui * u.getAtIndex(ValueLayout.JAVA_FLOAT, (long) r * c + j);
                }
            }
        }
        return s;
    }

    private static void assertClose(MemorySegment got, double[] want, int c, String what) {
        double worst = 0, scale = 1;
        for (double v : want) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < c * c; i++) worst = Math.max(worst, Math.abs(got.getAtIndex(ValueLayout.JAVA_FLOAT, i) - want[i]));
        assertTrue(worst <= 1e-5 * scale, what + ": max |diff| " + worst + " at scale " + scale);
        for (int i = 0; i < c; i++) {
            for (int j = 0; j < i; j++) {
                assertEquals(got.getAtIndex(ValueLayout.JAVA_FLOAT, (long) j * c + i), got.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * c + j),
                        what + ": S not symmetric at " + i + "," + j);
            }
        }
    }
}
