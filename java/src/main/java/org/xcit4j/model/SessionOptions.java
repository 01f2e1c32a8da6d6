package org.xcit4j.model;

/**
 * How a session executes. {@code FULL} keeps every activation of a block for all tokens (the
 * fastest plan); {@code STREAMED} runs the patch embedding in row bands and each XCA block
 * over token chunks (DESIGN.md section 4), so activation memory is the residual stream plus
 * buffers for one band; {@code AUTO} streams when the unchunked trunk (patch embedding and
 * blocks) would take more than the memory budget.
 *
 * @param execution    AUTO, FULL or STREAMED
 * @param bandRows     token-grid rows per band when streaming; 0 picks {@link #autoBandRows}
 * @param memoryBudget bytes the full plan may take before AUTO streams; 0 means half of the
 *                     memory the system reports available ({@link MemoryBudget#available()})
 */
public record SessionOptions(Execution execution, int bandRows, long memoryBudget) {
    /** How a session's trunk runs. */
    public enum Execution {
        /** Streams when the full plan exceeds the memory budget, else full. */
        AUTO,
        /** Every block's activations for all tokens at once: the fastest plan. */
        FULL,
        /** Row bands and token chunks: activation memory near the residual stream's. */
        STREAMED
    }

    public static final SessionOptions DEFAULT = new SessionOptions(Execution.AUTO, 0, 0);

    /** About this many tokens per block band: enough rows for efficient GEMMs, small beside any residual worth streaming. */
    static final int TOKENS_PER_BAND = 1024;

    /**
     * Patch-embedding bands are thinner: per token their buffers hold the token's image pixels
     * and every stage's outputs (p16: 3 x 256 floats of input, 12 x 256 of the first stage...),
     * against a few C floats per token in a block band. Their halos cost some recompute, but
     * the patch embedding is a few percent of the network's work.
     */
    static final int TOKENS_PER_PATCH_BAND = 256;

    /**
     * Checks the options.
     *
     * @throws IllegalArgumentException if execution is null or a number is negative
     */
    public SessionOptions {
        if (execution == null) throw new IllegalArgumentException("execution must not be null");
        if (bandRows < 0) throw new IllegalArgumentException("bandRows must be >= 0, got " + bandRows);
        if (memoryBudget < 0) throw new IllegalArgumentException("memoryBudget must be >= 0, got " + memoryBudget);
    }

    /**
     * A copy with another execution.
     *
     * @param e AUTO, FULL or STREAMED
     * @return the new options
     */
    public SessionOptions withExecution(Execution e) {
        return new SessionOptions(e, bandRows, memoryBudget);
    }

    /**
     * A copy with another band height.
     *
     * @param rows token-grid rows per band; 0 for the default
     * @return the new options
     */
    public SessionOptions withBandRows(int rows) {
        return new SessionOptions(execution, rows, memoryBudget);
    }

    /**
     * A copy with another memory budget.
     *
     * @param bytes what the full plan may take before AUTO streams; 0 for the default
     * @return the new options
     */
    public SessionOptions withMemoryBudget(long bytes) {
        return new SessionOptions(execution, bandRows, bytes);
    }

    /** The band height used for a grid width: {@code bandRows} if set, else about {@value #TOKENS_PER_BAND} tokens. */
    int bandRowsFor(int gridH, int gridW) {
        int rows = bandRows > 0 ? bandRows : autoBandRows(gridW);
        return Math.max(1, Math.min(rows, gridH));
    }

    static int autoBandRows(int gridW) {
        return Math.max(4, (TOKENS_PER_BAND + gridW - 1) / gridW);
    }

    /** Band height of the streamed patch embedding: at most the blocks' band, about {@value #TOKENS_PER_PATCH_BAND} tokens. */
    int patchBandRowsFor(int gridH, int gridW) {
        return Math.min(bandRowsFor(gridH, gridW), Math.max(2, (TOKENS_PER_PATCH_BAND + gridW - 1) / gridW));
    }

    /** Whether to stream, given the bytes the full plan would take. */
    boolean streams(long fullPlanBytes) {
        return switch (execution) {
            case FULL -> false;
            case STREAMED -> true;
            case AUTO -> fullPlanBytes > (memoryBudget > 0 ? memoryBudget : MemoryBudget.available() / 2);
        };
    }
}
