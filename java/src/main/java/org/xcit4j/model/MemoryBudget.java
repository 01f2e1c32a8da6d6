package org.xcit4j.model;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/** How much memory the system can still give: for {@link SessionOptions.Execution#AUTO} and the CLI's checks. */
public final class MemoryBudget {
    private MemoryBudget() {
    }

    /**
     * Linux's MemAvailable (free memory plus reclaimable caches: what a new allocation can
     * get without swapping), else the JVM's view of free physical memory.
     */
    /**
     * Refuses a planned allocation of {@code bytes} that the system cannot give: zero-filling it
     * would otherwise page it all in and end in the kernel's OOM killer instead of an error.
     */
    static void require(long bytes, String what) {
        long available = available();
        if (bytes > available) {
            throw new IllegalArgumentException(what + " needs " + (bytes >> 20) + " MiB, more than the " + (available >> 20)
                    + " MiB of memory available; use a smaller input or streamed execution (--stream on)");
        }
    }

    public static long available() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux or not readable: fall through
        }
        var os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) return sun.getFreeMemorySize();
        return Long.MAX_VALUE;
    }
}
