package org.xcit4j.tensor;

/** Element types met in checkpoints and data files. Compute tensors are F32. */
public enum DType {
    /** IEEE 754 binary32. */
    F32(4),
    /** IEEE 754 binary16. */
    F16(2),
    /** bfloat16: the upper half of a binary32. */
    BF16(2),
    /** IEEE 754 binary64. */
    F64(8),
    /** Signed 64-bit integer. */
    I64(8),
    /** Signed 32-bit integer. */
    I32(4),
    /** Signed 16-bit integer. */
    I16(2),
    /** Signed 8-bit integer. */
    I8(1),
    /** Unsigned 8-bit integer. */
    U8(1),
    /** Boolean, one byte. */
    BOOL(1);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /**
     * Bytes per element.
     *
     * @return the element size
     */
    public int byteSize() {
        return byteSize;
    }

    /**
     * Whether this is a floating-point type.
     *
     * @return true for F32, F16, BF16 and F64
     */
    public boolean isFloating() {
        return this == F32 || this == F16 || this == BF16 || this == F64;
    }
}
