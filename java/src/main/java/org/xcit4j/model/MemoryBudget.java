package org.xcit4j.model;

import org.xcit4j.tensor.HostMemory;

/** How much memory the system can still give: for {@link SessionOptions.Execution#AUTO} and the CLI's checks. */
public final class MemoryBudget {
    private MemoryBudget() {
    }

    /**
     * Refuses a planned allocation of {@code bytes} that the system cannot give: zero-filling it
     * would otherwise page it all in and end in the kernel's OOM killer instead of an error.
     */
    static void require(long bytes, String what) {
        long available = available();
        if (bytes > available) {
            throw new IllegalArgumentException(what + " needs " + (bytes >> 20) + " MiB, more than the " + (available >> 20)
                    + " MiB of memory available; use a smaller input or streamed execution (SessionOptions.Execution.STREAMED)");
        }
    }

    /**
     * What a new allocation can get: Linux's MemAvailable, bounded by the room left under the
     * cgroup memory limits the process runs in ({@link HostMemory}).
     *
     * @return the bytes available
     */
    public static long available() {
        return HostMemory.available();
    }
}
