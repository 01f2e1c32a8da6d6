package org.xcit4j.model;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/** How much memory the system can still give, for {@link SessionOptions.Execution#AUTO}. */
final class MemoryBudget {
    private MemoryBudget() {
    }

    /**
     * Linux's MemAvailable (free memory plus reclaimable caches: what a new allocation can
     * get without swapping), else the JVM's view of free physical memory.
     */
    static long available() {
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
