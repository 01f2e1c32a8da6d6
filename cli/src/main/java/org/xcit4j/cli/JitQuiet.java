package org.xcit4j.cli;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;

/**
 * Warm-up until the JIT has settled. A fixed handful of runs is not enough on a small
 * machine: C1/C2 compiler threads still run during the first dozens of forwards and take
 * cores from the native OpenMP team, whose threads then wait on each other, so early
 * timings measure the compiler, not the forward. Steady state is what a server sees.
 */
final class JitQuiet {
    /** Consecutive runs without any JIT compilation that count as settled. */
    static final int QUIET_RUNS = 10;
    /** Give up waiting for quiet after this long (a JIT may never be fully quiet). */
    static final int MAX_SECONDS = 30;

    private JitQuiet() {
    }

    /**
     * Runs {@code step} at least {@code minRuns} times, then until settled; returns the runs
     * made. {@code minRuns == 0} asks for cold timings: no warm-up at all.
     */
    static int warmUp(Step step, int minRuns) throws Exception {
        if (minRuns == 0) return 0;
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        boolean measurable = jit != null && jit.isCompilationTimeMonitoringSupported();
        long deadline = System.nanoTime() + MAX_SECONDS * 1_000_000_000L;
        int runs = 0, quiet = 0;
        long compiled = measurable ? jit.getTotalCompilationTime() : 0;
        while (runs < minRuns || (measurable && quiet < QUIET_RUNS && System.nanoTime() < deadline)) {
            step.run();
            runs++;
            long now = measurable ? jit.getTotalCompilationTime() : 0;
            quiet = now == compiled ? quiet + 1 : 0;
            compiled = now;
        }
        return runs;
    }

    @FunctionalInterface
    interface Step {
        void run() throws Exception;
    }
}
