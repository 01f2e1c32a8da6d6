package org.xcit4j.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Counts NaN and infinite values of a tensor, so that a checkpoint with non-finite weights or
 * an output that went non-finite is reported by name instead of flowing on silently.
 *
 * @param nan      NaN values
 * @param infinite +Inf and -Inf values
 * @param total    all values
 */
public record NonFinite(long nan, long infinite, long total) {
    private static final ValueLayout.OfInt BITS = ValueLayout.JAVA_INT_UNALIGNED;

    /**
     * Scans {@code t}: one pass over its bits (an all-ones exponent is NaN or infinity).
     *
     * @param t the tensor
     * @return its counts
     */
    public static NonFinite of(Tensor t) {
        MemorySegment s = t.segment();
        long n = t.numel(), nan = 0, inf = 0;
        for (long i = 0; i < n; i++) {
            int bits = s.getAtIndex(BITS, i);
            if ((bits & 0x7f800000) == 0x7f800000) {
                if ((bits & 0x007fffff) != 0) nan++;
                else inf++;
            }
        }
        return new NonFinite(nan, inf, n);
    }

    /**
     * Whether any value is NaN or infinite.
     *
     * @return true if so
     */
    public boolean any() {
        return nan + infinite > 0;
    }

    /**
     * "holds 3 NaN and 1 infinite values of 4096".
     *
     * @return the description
     */
    public String describe() {
        return "holds " + nan + " NaN and " + infinite + " infinite value" + (infinite == 1 ? "" : "s") + " of " + total;
    }
}
