package org.xcit4j.backend.cpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * What the host CPU offers the kernels, read from /proc/cpuinfo (Linux).
 *
 * @param model the CPU's model name
 * @param logicalCores the processors the JVM may use
 * @param flags the CPU's feature flags (/proc/cpuinfo)
 */
public record CpuInfo(String model, int logicalCores, Set<String> flags) {

    /** The instruction-set extensions the kernels care about, in the order printed. */
    public static final List<String> RELEVANT = List.of("avx2", "fma", "avx512f", "avx512bw", "avx512vl",
            "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile");

    /**
     * The host CPU, read now.
     *
     * @return its description
     */
    public static CpuInfo detect() {
        String model = System.getProperty("os.arch");
        Set<String> flags = new TreeSet<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                int colon = line.indexOf(':');
                if (colon < 0) continue;
                String key = line.substring(0, colon).trim(), value = line.substring(colon + 1).trim();
                if (key.equals("model name")) model = value;
                if (key.equals("flags") && flags.isEmpty()) flags.addAll(List.of(value.split("\\s+")));
            }
        } catch (IOException e) {
            model += " (/proc/cpuinfo unreadable: " + e.getMessage() + ")";
        }
        return new CpuInfo(model, Runtime.getRuntime().availableProcessors(), flags);
    }

    /**
     * Whether the CPU has a feature flag.
     *
     * @param flag a /proc/cpuinfo flag, such as avx512_bf16
     * @return true if present
     */
    public boolean has(String flag) {
        return flags.contains(flag);
    }

    /**
     * The relevant flags present, e.g. "avx2 fma avx512f avx512_bf16".
     *
     * @return the flags, space-separated
     */
    public String relevantFlags() {
        return String.join(" ", RELEVANT.stream().filter(flags::contains).toList());
    }
}
