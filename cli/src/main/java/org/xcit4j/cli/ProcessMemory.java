package org.xcit4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * This process's resident memory from /proc/self/status: the same figures the peer script
 * reads for PyTorch and ONNX Runtime, so the comparison counts the whole process (JVM,
 * weights, activations) and not only what the library allocated.
 */
final class ProcessMemory {
    private ProcessMemory() {
    }

    /** Current resident set (VmRSS) in MiB, or null where /proc is missing. */
    static Double residentMb() {
        return read("VmRSS:");
    }

    /** Peak resident set since the process started (VmHWM) in MiB, or null. */
    static Double peakResidentMb() {
        return read("VmHWM:");
    }

    private static Double read(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) {
                    long kb = Long.parseLong(line.substring(key.length()).replace("kB", "").trim());
                    return Math.round(kb / 102.4) / 10.0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // Not Linux, or an unexpected format: the fields are reported as null.
        }
        return null;
    }
}
