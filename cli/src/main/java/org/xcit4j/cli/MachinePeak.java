package org.xcit4j.cli;

import org.xcit4j.backend.cpu.CpuInfo;

/**
 * The FMA peak that GFLOP/s are compared against. It is measured, not derived from a clock
 * (docs: /work/shared/TOOLCHAIN.md): on the AMD Zen 5 machines of this project, fp32 about
 * 218 GFLOP/s per core and bf16 dot products about 405 per core when both cores run.
 * Elsewhere it is unknown unless XCIT_PEAK_GFLOPS gives the total for the threads used.
 */
final class MachinePeak {
    private static final double ZEN5_FP32_PER_CORE = 217.5;
    private static final double ZEN5_BF16_PER_CORE = 405.0;

    private MachinePeak() {
    }

    /** Peak GFLOP/s for {@code threads} threads at {@code precision}, or null when not known. */
    static Double gflops(String precision, int threads) {
        String override = System.getenv("XCIT_PEAK_GFLOPS");
        if (override != null && !override.isBlank()) return Double.parseDouble(override.trim());
        CpuInfo cpu = CpuInfo.detect();
        // Among AMD CPUs only Zen 5 has VP2INTERSECT; Zen 4 has AVX-512 at half this width.
        if (!cpu.model().contains("AMD") || !cpu.has("avx512_vp2intersect")) return null;
        int cores = Math.min(threads, cpu.logicalCores());
        return cores * (precision.equals("bf16") ? ZEN5_BF16_PER_CORE : ZEN5_FP32_PER_CORE);
    }
}
