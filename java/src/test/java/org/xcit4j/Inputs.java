package org.xcit4j;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/** Seeded test inputs. */
public final class Inputs {
    private Inputs() {
    }

    /** Standard normal values from {@code seed}, in {@code arena}. */
    public static Tensor gaussian(Arena arena, long seed, long... dims) {
        Tensor x = Tensor.allocate(arena, Shape.of(dims));
        SplittableRandom r = new SplittableRandom(seed);
        for (long i = 0; i < x.numel(); i++) x.set(i, (float) r.nextGaussian());
        return x;
    }
}
