package org.xcit4j.tensor;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * How much memory a new allocation can still get, so that an input, a model or a memory plan
 * that does not fit is refused with a message instead of ending in the kernel's OOM killer
 * (exit 137, no message) when its pages are touched. The smaller of:
 * <ul>
 * <li>the machine's MemAvailable (/proc/meminfo: free memory plus caches it can drop);</li>
 * <li>the room left under each cgroup memory limit the process is inside (containers,
 *     systemd slices): cgroup v2 {@code memory.max - memory.current} at every level from the
 *     process's group up to the hierarchy's root, v1 the smaller of
 *     {@code memory.limit_in_bytes} and the hierarchical limit, minus
 *     {@code memory.usage_in_bytes}. Usage counts page cache, so the inactive file pages the
 *     kernel reclaims first before failing ({@code inactive_file}) count as available.</li>
 * </ul>
 * Where none of this can be read (not Linux), the JVM's view of free physical memory.
 */
public final class HostMemory {
    /** v1 reports "no limit" as the largest page-aligned long; anything this large is no limit. */
    private static final long UNLIMITED = 1L << 62;

    private HostMemory() {
    }

    /**
     * Bytes a new allocation can get now; Long.MAX_VALUE only where nothing at all is known.
     *
     * @return the bytes available
     */
    public static long available() {
        long a = available(Path.of("/proc"), Path.of("/"));
        if (a != Long.MAX_VALUE) return a;
        var os = ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.OperatingSystemMXBean sun ? sun.getFreeMemorySize() : Long.MAX_VALUE;
    }

    /** {@link #available()} from a /proc and a file-system root elsewhere (tests give fake ones). */
    static long available(Path proc, Path root) {
        long a = Long.MAX_VALUE;
        try {
            for (String line : Files.readAllLines(proc.resolve("meminfo"))) {
                if (line.startsWith("MemAvailable:")) a = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or not readable: the cgroups may still say something
        }
        try {
            List<String> groups = Files.readAllLines(proc.resolve("self/cgroup"));
            List<String> mounts = Files.readAllLines(proc.resolve("self/mountinfo"));
            for (String g : groups) {
                String[] f = g.split(":", 3);
                if (f.length < 3) continue;
                if (f[0].equals("0") && f[1].isEmpty()) {
                    Path dir = groupDir(mounts, root, f[2], "cgroup2", null);
                    if (dir != null) a = Math.min(a, v2(dir, mountOf(mounts, root, "cgroup2", null)));
                } else if (List.of(f[1].split(",")).contains("memory")) {
                    Path dir = groupDir(mounts, root, f[2], "cgroup", "memory");
                    if (dir != null) a = Math.min(a, v1(dir));
                }
            }
        } catch (IOException | RuntimeException e) {
            // no cgroup information: MemAvailable stands
        }
        return a;
    }

    /** cgroup v2: the tightest room under memory.max from the group up to the root of the hierarchy. */
    private static long v2(Path dir, Path top) {
        long a = Long.MAX_VALUE;
        for (Path d = dir; d != null && d.startsWith(top); d = d.getParent()) {
            String max = read(d.resolve("memory.max"));
            if (max == null || max.equals("max")) continue;
            long current = number(read(d.resolve("memory.current")), 0);
            a = Math.min(a, Math.max(0, Long.parseLong(max) - current + stat(d, "inactive_file")));
        }
        return a;
    }

    /** cgroup v1: the group's limit (its own or an ancestor's, whichever is lower) minus its usage. */
    private static long v1(Path dir) {
        long limit = Math.min(number(read(dir.resolve("memory.limit_in_bytes")), Long.MAX_VALUE),
                stat(dir, "hierarchical_memory_limit"));
        if (limit == 0 || limit >= UNLIMITED) return Long.MAX_VALUE;
        long usage = number(read(dir.resolve("memory.usage_in_bytes")), 0);
        return Math.max(0, limit - usage + stat(dir, "total_inactive_file"));
    }

    /** The directory of the process's group: the hierarchy's mount point plus the group path below the mount's root. */
    private static Path groupDir(List<String> mounts, Path root, String group, String fsType, String option) {
        for (String m : mounts) {
            Mount mount = Mount.parse(m);
            if (mount == null || !mount.matches(fsType, option)) continue;
            String rel = !mount.root().equals("/") && group.startsWith(mount.root()) ? group.substring(mount.root().length()) : group;
            Path dir = root.resolve(mount.point().substring(1));
            for (String part : rel.split("/")) if (!part.isEmpty()) dir = dir.resolve(part);
            return dir;
        }
        return null;
    }

    private static Path mountOf(List<String> mounts, Path root, String fsType, String option) {
        for (String m : mounts) {
            Mount mount = Mount.parse(m);
            if (mount != null && mount.matches(fsType, option)) return root.resolve(mount.point().substring(1));
        }
        return root;
    }

    /** One /proc/self/mountinfo line: "id parent dev root point options [tags] - type source superoptions". */
    private record Mount(String root, String point, String type, List<String> superOptions) {
        static Mount parse(String line) {
            String[] f = line.split(" ");
            int dash = List.of(f).indexOf("-");
            if (f.length < 5 || dash < 0 || dash + 3 >= f.length) return null;
            return new Mount(unescape(f[3]), unescape(f[4]), f[dash + 1], List.of(f[dash + 3].split(",")));
        }

        boolean matches(String fsType, String option) {
            return type.equals(fsType) && (option == null || superOptions.contains(option));
        }

        /** mountinfo writes space, tab, newline and backslash as \040, \011, \012, \134. */
        private static String unescape(String s) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < s.length(); i++) {
                if (s.charAt(i) == '\\' && i + 3 < s.length()) {
                    b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                    i += 3;
                } else {
                    b.append(s.charAt(i));
                }
            }
            return b.toString();
        }
    }

    private static long stat(Path dir, String key) {
        String stat = read(dir.resolve("memory.stat"));
        if (stat != null) {
            for (String line : stat.split("\n")) {
                if (line.startsWith(key + " ")) return Long.parseLong(line.substring(key.length() + 1).strip());
            }
        }
        return key.contains("limit") ? Long.MAX_VALUE : 0;
    }

    private static long number(String s, long absent) {
        return s == null ? absent : Long.parseLong(s);
    }

    private static String read(Path file) {
        try {
            return Files.readString(file).strip();
        } catch (IOException e) {
            return null;
        }
    }
}
