package org.xcit4j.model;

import java.util.Arrays;
import java.util.List;

/**
 * Which XCA blocks feed the four FPN levels (strides 4, 8, 16, 32): level k takes the raw
 * output of block {@code outIndices[k]}. Empty means {@link #defaultOutIndices}.
 *
 * @param outIndices four block indices, strides 4 to 32, or empty for the default
 */
public record DenseOptions(List<Integer> outIndices) {
    public static final DenseOptions DEFAULT = new DenseOptions(List.of());

    /**
     * Checks the indices.
     *
     * @throws IllegalArgumentException if there are neither four nor none
     */
    public DenseOptions {
        outIndices = List.copyOf(outIndices);
        if (!outIndices.isEmpty() && outIndices.size() != Fpn.LEVELS) {
            throw new IllegalArgumentException("out indices must name " + Fpn.LEVELS + " blocks, got " + outIndices);
        }
    }

    /**
     * Options with the given indices.
     *
     * @param indices four block indices, strides 4 to 32
     * @return the options
     */
    public static DenseOptions of(int... indices) {
        return new DenseOptions(Arrays.stream(indices).boxed().toList());
    }

    /**
     * The published indices are [3, 5, 7, 11] for depth 12 and [7, 11, 15, 23] for depth 24:
     * the blocks at 1/3, 1/2, 2/3 and all of the depth. For any depth: ceil(depth * f) - 1
     * for f = 1/3, 1/2, 2/3, 1 (at least 0), which reproduces both published lists.
     *
     * @param depth the number of XCA blocks
     * @return four block indices
     */
    public static int[] defaultOutIndices(int depth) {
        int[] sixths = {2, 3, 4, 6};
        int[] out = new int[sixths.length];
        for (int k = 0; k < out.length; k++) out[k] = Math.max(0, (depth * sixths[k] + 5) / 6 - 1);
        return out;
    }

    /** The indices for a model of {@code depth} blocks, checked: in range and non-decreasing (as the original's order). */
    int[] resolve(int depth) {
        int[] idx = outIndices.isEmpty() ? defaultOutIndices(depth) : outIndices.stream().mapToInt(Integer::intValue).toArray();
        for (int k = 0; k < idx.length; k++) {
            if (idx[k] < 0 || idx[k] >= depth) {
                throw new IllegalArgumentException("out index " + idx[k] + " is not a block of this depth-" + depth + " model (0.." + (depth - 1) + ")");
            }
            if (k > 0 && idx[k] < idx[k - 1]) {
                throw new IllegalArgumentException("out indices must not decrease (level k uses block k's output in depth order), got "
                        + Arrays.toString(idx));
            }
        }
        return idx;
    }
}
