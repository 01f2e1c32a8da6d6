package org.xcit4j.backend;

import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Argument checks the backends share (shapes of op operands), written not to allocate on the
 * success path. Public only because the backends live in their own packages; not API.
 */
public final class Checks {
    private Checks() {
    }

    // Checks without allocating (Shape.of would, on every call): steady state must allocate nothing.
    /**
     * Requires shape (d0, d1).
     *
     * @param t the tensor
     * @param what names it in the message
     * @param d0 dimension 0
     * @param d1 dimension 1
     * @throws IllegalArgumentException if the shape differs
     */
    public static void requireDims(Tensor t, String what, long d0, long d1) {
        Shape s = t.shape();
        if (s.rank() != 2 || s.dim(0) != d0 || s.dim(1) != d1) throw shapeError(t, what, Shape.of(d0, d1));
    }

    /**
     * Requires shape (d0, d1, d2).
     *
     * @param t the tensor
     * @param what names it in the message
     * @param d0 dimension 0
     * @param d1 dimension 1
     * @param d2 dimension 2
     * @throws IllegalArgumentException if the shape differs
     */
    public static void requireDims(Tensor t, String what, long d0, long d1, long d2) {
        Shape s = t.shape();
        if (s.rank() != 3 || s.dim(0) != d0 || s.dim(1) != d1 || s.dim(2) != d2) throw shapeError(t, what, Shape.of(d0, d1, d2));
    }

    /**
     * Requires shape (d0, d1, d2, d3).
     *
     * @param t the tensor
     * @param what names it in the message
     * @param d0 dimension 0
     * @param d1 dimension 1
     * @param d2 dimension 2
     * @param d3 dimension 3
     * @throws IllegalArgumentException if the shape differs
     */
    public static void requireDims(Tensor t, String what, long d0, long d1, long d2, long d3) {
        Shape s = t.shape();
        if (s.rank() != 4 || s.dim(0) != d0 || s.dim(1) != d1 || s.dim(2) != d2 || s.dim(3) != d3) {
            throw shapeError(t, what, Shape.of(d0, d1, d2, d3));
        }
    }

    /**
     * The exception for a tensor of the wrong shape.
     *
     * @param t the tensor
     * @param what names it in the message
     * @param expected the shape it should have
     * @return the exception, to throw
     */
    public static IllegalArgumentException shapeError(Tensor t, String what, Shape expected) {
        return new IllegalArgumentException(what + ": shape " + t.shape() + ", expected " + expected);
    }

    /**
     * Checks a {@code conv3x3s2} call (Backend's contract) and returns R, the output rows it
     * computes: in (B, H, W, Cin), or (B, Cin, H, W) if {@code channelsFirst}; weight (Cout,
     * Cin, 3, 3), bias (Cout), out (B, R, ceil(W/2), Cout) with 0 &lt;= firstRow, firstRow + R &lt;= ceil(H/2).
     *
     * @param out the output band
     * @param in the input
     * @param channelsFirst whether in is (B, Cin, H, W)
     * @param firstRow the band's first output row
     * @param weight (Cout, Cin, 3, 3)
     * @param bias (Cout)
     * @return R, the band's rows
     * @throws IllegalArgumentException naming the operand that does not fit
     */
    public static long convRows(Tensor out, Tensor in, boolean channelsFirst, int firstRow, Tensor weight, Tensor bias) {
        Shape s = in.shape(), o = out.shape();
        if (s.rank() != 4) {
            throw new IllegalArgumentException("conv3x3s2 in: shape " + s + ", expected " + (channelsFirst ? "(B, Cin, H, W)" : "(B, H, W, Cin)"));
        }
        long b = s.dim(0), h = s.dim(channelsFirst ? 2 : 1), w = s.dim(channelsFirst ? 3 : 2), cin = s.dim(channelsFirst ? 1 : 3);
        long cout = weight.shape().dim(0);
        requireDims(weight, "conv3x3s2 weight", cout, cin, 3, 3);
        requireNumel(bias, cout, "conv3x3s2 bias");
        long rows = o.rank() == 4 ? o.dim(1) : -1;
        if (o.rank() != 4 || o.dim(0) != b || o.dim(2) != (w + 1) / 2 || o.dim(3) != cout) {
            throw new IllegalArgumentException("conv3x3s2 out: shape " + o + ", expected (" + b + ", R, " + (w + 1) / 2 + ", " + cout + ")");
        }
        if (firstRow < 0 || firstRow + rows > (h + 1) / 2) {
            throw new IllegalArgumentException("conv3x3s2: output rows [" + firstRow + ", " + (firstRow + rows)
                    + ") outside the " + (h + 1) / 2 + " rows of a " + h + "-row input");
        }
        return rows;
    }

    /**
     * Requires {@code numel} elements.
     *
     * @param t the tensor
     * @param numel the element count
     * @param what names it in the message
     * @throws IllegalArgumentException if the count differs
     */
    public static void requireNumel(Tensor t, long numel, String what) {
        if (t.numel() != numel) throw new IllegalArgumentException(what + ": shape " + t.shape() + ", expected " + numel + " elements");
    }
}
