package org.xcit4j.backend;

import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/** Argument checks of the native backend, written not to allocate on the success path. */
final class Checks {
    private Checks() {
    }

    // Checks without allocating (Shape.of would, on every call): steady state must allocate nothing.
    static void requireDims(Tensor t, String what, long d0, long d1) {
        Shape s = t.shape();
        if (s.rank() != 2 || s.dim(0) != d0 || s.dim(1) != d1) throw shapeError(t, what, Shape.of(d0, d1));
    }

    static void requireDims(Tensor t, String what, long d0, long d1, long d2) {
        Shape s = t.shape();
        if (s.rank() != 3 || s.dim(0) != d0 || s.dim(1) != d1 || s.dim(2) != d2) throw shapeError(t, what, Shape.of(d0, d1, d2));
    }

    static void requireDims(Tensor t, String what, long d0, long d1, long d2, long d3) {
        Shape s = t.shape();
        if (s.rank() != 4 || s.dim(0) != d0 || s.dim(1) != d1 || s.dim(2) != d2 || s.dim(3) != d3) {
            throw shapeError(t, what, Shape.of(d0, d1, d2, d3));
        }
    }

    static IllegalArgumentException shapeError(Tensor t, String what, Shape expected) {
        return new IllegalArgumentException(what + ": shape " + t.shape() + ", expected " + expected);
    }

    static void requireNumel(Tensor t, long numel, String what) {
        if (t.numel() != numel) throw new IllegalArgumentException(what + ": shape " + t.shape() + ", expected " + numel + " elements");
    }
}
