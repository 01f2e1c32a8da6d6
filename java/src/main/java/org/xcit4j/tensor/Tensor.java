package org.xcit4j.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A float32, row-major, contiguous view over a {@link MemorySegment}. The segment's owner
 * (an {@link Arena} of a model, a session or a loader) decides its lifetime; a tensor never
 * frees memory itself. Host tensors live in native (off-heap) memory so that native kernels
 * can take them without a copy.
 */
public final class Tensor {
    /**
     * The layout of an element: float32, native byte order, unaligned access allowed.
     */
    public static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final MemorySegment segment;
    private final Shape shape;

    private Tensor(MemorySegment segment, Shape shape) {
        long bytes = shape.numel() * Float.BYTES;
        if (segment.byteSize() != bytes) {
            throw new IllegalArgumentException("segment of " + segment.byteSize()
                    + " bytes cannot hold a float32 tensor of shape " + shape + " (" + bytes + " bytes)");
        }
        this.segment = segment;
        this.shape = shape;
    }

    /**
     * Wraps exactly {@code shape.numel() * 4} bytes of {@code segment}.
     *
     * @param segment the memory, exactly 4 bytes per element
     * @param shape the shape
     * @return the view
     */
    public static Tensor wrap(MemorySegment segment, Shape shape) {
        return new Tensor(segment, shape);
    }

    /**
     * A zero-filled tensor allocated in {@code arena}.
     *
     * @param arena owns the memory
     * @param shape the shape
     * @return the tensor
     */
    public static Tensor allocate(Arena arena, Shape shape) {
        return new Tensor(arena.allocate(shape.numel() * Float.BYTES, 64), shape);
    }

    /**
     * A zero-filled tensor of shape {@code dims} allocated in {@code arena}.
     *
     * @param arena owns the memory
     * @param dims the shape
     * @return the tensor
     */
    public static Tensor allocate(Arena arena, long... dims) {
        return allocate(arena, Shape.of(dims));
    }

    /**
     * Copies {@code values} into a new tensor in {@code arena}.
     *
     * @param arena owns the memory
     * @param shape the shape
     * @param values row-major, one per element
     * @return the tensor
     */
    public static Tensor of(Arena arena, Shape shape, float[] values) {
        if (values.length != shape.numel()) {
            throw new IllegalArgumentException(values.length + " values for shape " + shape);
        }
        Tensor t = allocate(arena, shape);
        MemorySegment.copy(values, 0, t.segment, F32, 0, values.length);
        return t;
    }

    /**
     * The memory viewed.
     *
     * @return the segment
     */
    public MemorySegment segment() {
        return segment;
    }

    /**
     * The shape.
     *
     * @return the shape
     */
    public Shape shape() {
        return shape;
    }

    /**
     * The number of elements.
     *
     * @return the product of the dimensions
     */
    public long numel() {
        return shape.numel();
    }

    /**
     * One element by its flat (row-major) index.
     *
     * @param index the flat index
     * @return the value
     */
    public float get(long index) {
        return segment.getAtIndex(F32, index);
    }

    /**
     * Writes one element by its flat (row-major) index.
     *
     * @param index the flat index
     * @param value the value
     */
    public void set(long index, float value) {
        segment.setAtIndex(F32, index, value);
    }

    /**
     * The same memory seen with another shape of the same element count.
     *
     * @param dims the new shape
     * @return the view
     */
    public Tensor reshape(long... dims) {
        Shape s = Shape.of(dims);
        if (s.numel() != shape.numel()) {
            throw new IllegalArgumentException("cannot reshape " + shape + " to " + s);
        }
        return new Tensor(segment, s);
    }

    /**
     * Rows {@code [from, to)} of the outermost dimension, sharing memory.
     *
     * @param from the first row
     * @param to one past the last row
     * @return the view
     */
    public Tensor slice(long from, long to) {
        long[] dims = shape.dims();
        if (dims.length == 0 || from < 0 || to > dims[0] || from > to) {
            throw new IndexOutOfBoundsException("slice [" + from + ", " + to + ") of shape " + shape);
        }
        long rowBytes = shape.numel() == 0 ? 0 : shape.numel() / dims[0] * Float.BYTES;
        dims[0] = to - from;
        return new Tensor(segment.asSlice(from * rowBytes, (to - from) * rowBytes), Shape.of(dims));
    }

    /**
     * The elements copied to the heap, row-major.
     *
     * @return a new array
     */
    public float[] toArray() {
        return segment.toArray(ValueLayout.JAVA_FLOAT);
    }

    /**
     * Copies the elements of {@code src}, which has this shape or as many elements.
     *
     * @param src the tensor copied
     */
    public void copyFrom(Tensor src) {
        if (!src.shape.equals(shape) && src.numel() != numel()) {
            throw new IllegalArgumentException("copy from " + src.shape + " into " + shape);
        }
        segment.copyFrom(src.segment);
    }

    @Override
    public String toString() {
        return "Tensor" + shape;
    }
}
