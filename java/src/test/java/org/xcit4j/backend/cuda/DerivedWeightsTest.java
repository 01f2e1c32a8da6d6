package org.xcit4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/** The weights CudaBackend derives on the host: values by their index formula, made once. */
class DerivedWeightsTest {

    @Test
    void tapMajorPutsTheTapsBeforeTheSecondDim() {
        try (Arena arena = Arena.ofConfined(); DerivedWeights derived = new DerivedWeights()) {
            // (A, B, kh, kw) = (2, 3, 3, 3) as a conv3x3 weight (Cout, Cin, 3, 3), then (3, 4, 2, 2) as a ConvTranspose2d's (Cin, Cout, 2, 2).
            for (Shape s : new Shape[] {Shape.of(2, 3, 3, 3), Shape.of(3, 4, 2, 2)}) {
                Tensor w = Tensor.allocate(arena, s);
                for (long i = 0; i < w.numel(); i++) w.set(i, i);
                Tensor t = derived.tapMajor(w);
                int a = s.size(0), b = s.size(1), kh = s.size(2), kw = s.size(3);
                assertEquals(Shape.of(a, kh, kw, b), t.shape());
                for (int i = 0; i < a; i++)
                    for (int j = 0; j < b; j++)
                        for (int y = 0; y < kh; y++)
                            for (int x = 0; x < kw; x++) {
                                assertEquals(w.get(((long) (i * b + j) * kh + y) * kw + x), t.get(((long) (i * kh + y) * kw + x) * b + j),
                                        s + " [" + i + ", " + j + ", " + y + ", " + x + "]");
                            }
                assertSame(t, derived.tapMajor(w), "made once per weight");
            }
            Tensor flat = Tensor.allocate(arena, Shape.of(4, 4));
            assertThrows(IllegalArgumentException.class, () -> derived.tapMajor(flat));
        }
    }
}
