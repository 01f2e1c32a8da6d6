package org.xcit4j.io;

import java.nio.file.Path;
import org.xcit4j.tensor.HostMemory;

/**
 * Refuses, before allocating, what a file would need beyond the memory the process can really
 * get ({@link HostMemory}: MemAvailable and cgroup limits): zero-filling or decoding into an
 * allocation the system cannot back ends in the kernel's OOM killer, with no message.
 */
final class MemoryCheck {
    private MemoryCheck() {
    }

    static void require(Path file, long bytes, String what) throws CheckpointException {
        long available = HostMemory.available();
        if (bytes > available) {
            throw new CheckpointException(file, what + " needs " + (bytes >> 20) + " MiB, more than the " + (available >> 20)
                    + " MiB of memory available");
        }
    }
}
