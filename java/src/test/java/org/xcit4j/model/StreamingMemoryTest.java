package org.xcit4j.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.xcit4j.tensor.MemoryPlan;

/**
 * Plan sizes (no allocation) of the trunk for xcit_small_12 at growing sides: streamed, the
 * activation memory approaches the residual stream (DESIGN.md section 4), whatever the size.
 */
class StreamingMemoryTest {

    private static final org.xcit4j.backend.java.JavaBackend JAVA = new org.xcit4j.backend.java.JavaBackend();

    private static long trunkBytes(Xcit model, int side, SessionOptions.Execution e) {
        return trunkBytes(model, JAVA, side, e);
    }

    /** The trunk's plan as {@code backend} would have it (it says which block buffers it uses). */
    private static long trunkBytes(Xcit model, org.xcit4j.backend.Backend backend, int side, SessionOptions.Execution e) {
        Trunk t = Trunk.create(model, backend, 1, side, side, SessionOptions.DEFAULT.withExecution(e));
        MemoryPlan.Builder p = MemoryPlan.builder();
        t.declare(p, t.blocksStep());
        return p.bytes();
    }

    @Test
    void streamedTrunkIsTheResidualStreamPlusBoundedBands() {
        for (int patch : new int[] {16, 8}) {
            XcitConfig cfg = XcitConfig.of(patch, 384, 1, 8, 0, true); // one block: the plan does not depend on depth
            try (Xcit model = Xcit.random(cfg, 1); org.xcit4j.backend.cpu.CpuBackend cpu = new org.xcit4j.backend.cpu.CpuBackend(1)) {
                for (int side : new int[] {224, 1024, 4096}) {
                    long residual = (long) cfg.gridSide(side) * cfg.gridSide(side) * 384 * Float.BYTES;
                    long full = trunkBytes(model, side, SessionOptions.Execution.FULL);
                    long cpuFull = trunkBytes(model, cpu, side, SessionOptions.Execution.FULL);
                    long streamed = trunkBytes(model, side, SessionOptions.Execution.STREAMED);
                    System.out.printf("p%d %4dx%-4d residual %7.1f MB  full trunk %8.1f MB (cpu %8.1f MB)  streamed trunk %7.1f MB (%.2f x residual)%n",
                            patch, side, side, residual / 1e6, full / 1e6, cpuFull / 1e6, streamed / 1e6, (double) streamed / residual);
                    if (side == 4096) assertTrue(streamed < 1.7 * residual, "streamed " + streamed + " vs residual " + residual);
                }
            }
        }
    }

    /**
     * The unchunked trunk of xcit_small_12_p16 at 1024 x 1024 (grid 64 x 64, C 384). On the cpu
     * backend the patch embedding runs in bands, so its step needs less than the blocks', and
     * the blocks plan only what the backend touches there (the covariance route reads no qkv
     * or attn, the fused residual ops no tmp): the plan is exactly the tokens, the positional
     * table, u and the MLP's hidden layer, 44.0 MB, where whole stages and every block buffer
     * took 81.8 MB. The java backend uses every block buffer; its plan adds them (75.5 MB).
     */
    @Test
    void unchunkedTrunkPlansBandsAndOnlyTheBlockBuffersTheBackendUses() {
        XcitConfig cfg = XcitConfig.of(16, 384, 1, 8, 0, true);
        try (Xcit model = Xcit.random(cfg, 1); org.xcit4j.backend.cpu.CpuBackend cpu = new org.xcit4j.backend.cpu.CpuBackend(1)) {
            long nc = 64L * 64 * 384 * Float.BYTES;
            long cpuFull = trunkBytes(model, cpu, 1024, SessionOptions.Execution.FULL);
            long javaFull = trunkBytes(model, JAVA, 1024, SessionOptions.Execution.FULL);
            org.junit.jupiter.api.Assertions.assertEquals((1 + 1 + 1 + 4) * nc, cpuFull, "cpu: tokens, position, u, hidden");
            org.junit.jupiter.api.Assertions.assertEquals((1 + 1 + 1 + 4 + 1 + 1 + 3) * nc, javaFull,
                    "java: tokens, position, u, hidden, y, attn, qkv");
            // Whole stages: the image copy, (512, 512, 48) and (256, 256, 96) at once with the position.
            long wholeStages = (512L * 512 * 48 + 256L * 256 * 96) * Float.BYTES + nc;
            assertTrue(cpuFull < 0.55 * wholeStages, cpuFull + " vs " + wholeStages);
        }
    }

    /**
     * A whole streamed classification session (trunk, class attention, head) plans little
     * more than its trunk: the class-attention stage keeps the cls rows, the (B, heads, N + 1)
     * weights and chunk buffers that share bytes with the trunk's bands, no (B, N + 1, C) copy.
     */
    @Test
    void streamedSessionAddsOnlyTheClsWeightsToTheTrunk() {
        XcitConfig cfg = XcitConfig.of(16, 384, 1, 8, 1000, true);
        try (Xcit model = Xcit.random(cfg, 1); org.xcit4j.backend.java.JavaBackend backend = new org.xcit4j.backend.java.JavaBackend()) {
            int side = 1024;
            long n = (long) cfg.gridSide(side) * cfg.gridSide(side);
            long trunk = trunkBytes(model, side, SessionOptions.Execution.STREAMED);
            long weights = 2 * 8 * (n + 1) * Float.BYTES; // the weights and the transposed copy for the maps
            long input = 3L * side * side * Float.BYTES;
            try (Session s = model.session(backend, 1, side, side, SessionOptions.DEFAULT.withExecution(SessionOptions.Execution.STREAMED))) {
                System.out.printf("p16 %dx%d streamed session plan %.1f MB: input %.1f MB, trunk %.1f MB%n", side, side, s.activationBytes() / 1e6,
                        input / 1e6, trunk / 1e6);
                assertTrue(s.activationBytes() < input + trunk + weights + (1 << 20), s.activationBytes() + " vs trunk " + trunk);
            }
        }
    }

    /** A plan the system cannot give is refused with a message, before it is zero-filled (paged in). */
    @org.junit.jupiter.api.Test
    void plansBeyondAvailableMemoryAreRefused() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> MemoryBudget.require(Long.MAX_VALUE / 2, "the activation plan"));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("SessionOptions.Execution.STREAMED"), e.getMessage());
        MemoryBudget.require(1 << 20, "one MiB");
    }
}
