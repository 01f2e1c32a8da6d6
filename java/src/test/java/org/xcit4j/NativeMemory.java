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
     * Resident memory over a soak: a baseline after the warm-up, checkpoints during the soak.
     * Its growth is the least of the last three checkpoints minus the baseline: a leak raises
     * every checkpoint, while the JVM's transient allocations (a C2 compilation's arena, some
     * 40 MB here now and then) raise one at a time and do not count.
     */
    public static final class Trend {
        private final long baseline = settledResidentBytes();
        private final List<Long> checkpoints = new ArrayList<>();

        public void checkpoint() {
            checkpoints.add(settledResidentBytes());
        }

        public long growth() {
            if (checkpoints.size() < 3) throw new IllegalStateException("take at least three checkpoints");
            long least = Long.MAX_VALUE;
            for (int i = checkpoints.size() - 3; i < checkpoints.size(); i++) least = Math.min(least, checkpoints.get(i));
            return least - baseline;
        }

        @Override
        public String toString() {
            StringBuilder b = new StringBuilder(String.format("RSS %.1f MB, then", baseline / 1e6));
            for (long c : checkpoints) b.append(String.format(" %.1f", c / 1e6));
            return b.append(String.format(" MB: growth %+.1f MB", growth() / 1e6)).toString();
        }
    }
}
