package org.xcit4j.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Tensors with NaN guard bands: each lives inside a larger allocation whose first and last
 * {@link #GUARD} floats are NaN, so an op writing out of bounds turns a guard into a number.
 */
final class Guarded {
    static final int GUARD = 64;

    private Guarded() {
    }

    static Tensor nan(Arena arena, long... dims) {
        Shape shape = Shape.of(dims);
        MemorySegment all = arena.allocate((shape.numel() + 2L * GUARD) * Float.BYTES, 64);
        for (long i = 0; i < shape.numel() + 2L * GUARD; i++) all.setAtIndex(Tensor.F32, i, Float.NaN);
        return Tensor.wrap(all.asSlice(GUARD * (long) Float.BYTES, shape.numel() * Float.BYTES), shape);
    }

    static Tensor random(Arena arena, SplittableRandom r, double mean, double std, long... dims) {
        Tensor t = nan(arena, dims);
        for (long i = 0; i < t.numel(); i++) t.set(i, (float) (mean + std * r.nextGaussian()));
        return t;
    }

    static Tensor copy(Arena arena, Tensor src) {
        Tensor t = nan(arena, src.shape().dims());
        t.copyFrom(src);
        return t;
    }

    /** Whether the guards around {@code t} (made by this class) are all still NaN. */
    static boolean intact(Tensor t) {
        MemorySegment s = t.segment();
        MemorySegment before = MemorySegment.ofAddress(s.address() - GUARD * (long) Float.BYTES).reinterpret(GUARD * (long) Float.BYTES);
        MemorySegment after = MemorySegment.ofAddress(s.address() + s.byteSize()).reinterpret(GUARD * (long) Float.BYTES);
        for (int i = 0; i < GUARD; i++) {
            if (!Float.isNaN(before.getAtIndex(Tensor.F32, i)) || !Float.isNaN(after.getAtIndex(Tensor.F32, i))) return false;
        }
        return true;
    }
}
