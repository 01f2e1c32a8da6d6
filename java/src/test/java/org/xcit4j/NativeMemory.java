package org.xcit4j;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The process's resident memory, for soak tests that assert it stays flat. */
public final class NativeMemory {
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
     * Resident bytes after a full GC (so that garbage the test made does not count, and what
     * the collector gave back is gone): the least of three readings a moment apart.
     */
    public static long settledResidentBytes() {
        long least = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            System.gc();
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
}
