package org.xcit4j.tensor;

import java.util.Arrays;

/** An immutable tensor shape: dimension sizes, outermost first (row-major). */
public final class Shape {
    private final long[] dims;

    private Shape(long[] dims) {
        for (long d : dims) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(dims));
        }
        this.dims = dims;
    }

    /**
     * A shape of the given dimensions.
     *
     * @param dims sizes, outermost first, none negative
     * @return the shape
     */
    public static Shape of(long... dims) {
        return new Shape(dims.clone());
    }

    /**
     * The number of dimensions.
     *
     * @return the rank
     */
    public int rank() {
        return dims.length;
    }

    /**
     * One dimension's size.
     *
     * @param axis the axis; negative counts from the last
     * @return the size
     */
    public long dim(int axis) {
        return dims[axis < 0 ? dims.length + axis : axis];
    }

    /**
     * Dimension as an int, for loop bounds; every XCiT dimension fits.
     *
     * @param axis the axis; negative counts from the last
     * @return the size
     */
    public int size(int axis) {
        return Math.toIntExact(dim(axis));
    }

    /**
     * Every dimension's size.
     *
     * @return a copy of the sizes
     */
    public long[] dims() {
        return dims.clone();
    }

    /**
     * The number of elements.
     *
     * @return the product of the dimensions
     */
    public long numel() {
        long n = 1;
        for (long d : dims) n = Math.multiplyExact(n, d);
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    /** Like PyTorch prints it: (2, 3, 224, 224). */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("(");
        for (int i = 0; i < dims.length; i++) {
            if (i > 0) b.append(", ");
            b.append(dims[i]);
        }
        return b.append(dims.length == 1 ? ",)" : ")").toString();
    }
}
