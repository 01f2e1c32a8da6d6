package org.xcit4j;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The process's resident memory, for soak tests that assert it stays flat. */
public final class NativeMemory {
    /** glibc's malloc_trim, or null elsewhere. */
    private static final MethodHandle MALLOC_TRIM = Linker.nativeLinker().defaultLookup().find("malloc_trim")
            .map(f -> Linker.nativeLinker().downcallHandle(f, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG)))
            .orElse(null);

    private NativeMemory() {
    }

    /** Resident bytes now: /proc/self/statm's second field (pages) times the page size (4 KiB on x86-64 Linux). */
    public static long residentBytes() {
        try {
            String[] fields = Files.readString(Path.of("/proc/self/statm")).trim().split(" ");
            return Long.parseLong(fields[1]) * 4096;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Resident bytes after a full GC (so that garbage the test made does not count) and glibc's
     * malloc_trim (freed memory that malloc kept for reuse is not a leak; without the trim,
     * RSS here swung by 40-120 MB between readings of the same steady state while the JVM's
     * native memory tracking stayed flat): the least of three readings a moment apart.
     */
    public static long settledResidentBytes() {
        long least = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            System.gc();
            trim();
            least = Math.min(least, residentBytes());
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return least;
    }

    private static void trim() {
        if (MALLOC_TRIM == null) return;
        try {
            int released = (int) MALLOC_TRIM.invokeExact(0L);
        } catch (Throwable e) {
            throw new IllegalStateException("malloc_trim failed", e);
        }
    }

    /**
     * Resident memory over a soak: a baseline after the warm-up, then checkpoints. Its growth
     * is the least of the last three readings minus the least of the first three (baseline
     * included): a leak raises every reading in proportion to the work between them, while
     * the JVM's own transient or one-off allocations (a C2 compilation's arena, some 40 MB
     * here now and then; a step of 10-20 MB early in a soak that then stays flat) move one
     * reading or the first ones only.
     */
    public static final class Trend {
        private final List<Long> readings = new ArrayList<>(List.of(settledResidentBytes()));

        public void checkpoint() {
            readings.add(settledResidentBytes());
        }

        public long growth() {
            if (readings.size() < 6) throw new IllegalStateException("take at least five checkpoints");
            return least(readings.size() - 3) - least(0);
        }

        private long least(int from) {
            long least = Long.MAX_VALUE;
            for (int i = from; i < from + 3; i++) least = Math.min(least, readings.get(i));
            return least;
        }

        @Override
        public String toString() {
            StringBuilder b = new StringBuilder("RSS");
            for (long c : readings) b.append(String.format(" %.1f", c / 1e6));
            return b.append(String.format(" MB: growth %+.1f MB", growth() / 1e6)).toString();
        }
    }
}
