package org.xcit4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Memory available under cgroup limits, read from fake /proc and /sys trees laid out as the
 * kernel does (cgroup v2 and v1, nested groups, a container's namespaced view).
 */
class HostMemoryTest {
    private static final long GIB = 1L << 30, MIB = 1L << 20;

    @TempDir
    Path proc;
    @TempDir
    Path root;

    @Test
    void withoutCgroupsMemAvailableCounts() throws IOException {
        meminfo(20 * GIB);
        assertEquals(20 * GIB, HostMemory.available(proc, root));
    }

    @Test
    void cgroupV2LimitMinusUsagePlusInactiveFiles() throws IOException {
        meminfo(20 * GIB);
        v2("0::/user.slice/app\n", "/");
        group("sys/fs/cgroup/user.slice", "memory.max", "max");
        group("sys/fs/cgroup/user.slice/app", "memory.max", "" + 4 * GIB);
        group("sys/fs/cgroup/user.slice/app", "memory.current", "" + 3 * GIB);
        group("sys/fs/cgroup/user.slice/app", "memory.stat", "anon 1\ninactive_file " + 256 * MIB + "\nactive_file 7\n");
        assertEquals(GIB + 256 * MIB, HostMemory.available(proc, root));
    }

    @Test
    void cgroupV2ParentLimitIsTheTighterOne() throws IOException {
        meminfo(20 * GIB);
        v2("0::/user.slice/app\n", "/");
        group("sys/fs/cgroup/user.slice", "memory.max", "" + 2 * GIB);
        group("sys/fs/cgroup/user.slice", "memory.current", "" + (2 * GIB - 100 * MIB));
        group("sys/fs/cgroup/user.slice/app", "memory.max", "" + 8 * GIB);
        group("sys/fs/cgroup/user.slice/app", "memory.current", "" + GIB);
        assertEquals(100 * MIB, HostMemory.available(proc, root));
    }

    @Test
    void aContainersNamespacedViewIsTheMountItself() throws IOException {
        meminfo(20 * GIB);
        // docker without a cgroup namespace: the group path and the mount's root are the same.
        v2("0::/docker/abc\n", "/docker/abc");
        group("sys/fs/cgroup", "memory.max", "" + 4 * GIB);
        group("sys/fs/cgroup", "memory.current", "" + 3 * GIB);
        assertEquals(GIB, HostMemory.available(proc, root));
    }

    @Test
    void cgroupV1HierarchicalLimitMinusUsage() throws IOException {
        meminfo(20 * GIB);
        Files.createDirectories(proc.resolve("self"));
        Files.writeString(proc.resolve("self/cgroup"), "5:cpu,cpuacct:/x\n4:memory:/process_api/x\n0::/\n");
        Files.writeString(proc.resolve("self/mountinfo"),
                "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
                        + "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
        String dir = "sys/fs/cgroup/memory/process_api/x";
        group(dir, "memory.limit_in_bytes", "9223372036854771712");
        group(dir, "memory.usage_in_bytes", "" + 3 * GIB);
        group(dir, "memory.stat", "cache 5\nhierarchical_memory_limit " + 4 * GIB + "\ntotal_inactive_file " + 512 * MIB + "\n");
        assertEquals(GIB + 512 * MIB, HostMemory.available(proc, root));
    }

    @Test
    void unlimitedGroupsLeaveMemAvailable() throws IOException {
        meminfo(3 * GIB);
        v2("0::/a\n", "/");
        group("sys/fs/cgroup/a", "memory.max", "max");
        group("sys/fs/cgroup/a", "memory.current", "" + 10 * GIB);
        assertEquals(3 * GIB, HostMemory.available(proc, root));
    }

    @Test
    void thisMachineGivesAPositiveFigure() {
        assertTrue(HostMemory.available() > 0);
    }

    private void meminfo(long available) throws IOException {
        Files.writeString(proc.resolve("meminfo"), "MemTotal:       99999999 kB\nMemAvailable:   " + available / 1024 + " kB\n");
    }

    private void v2(String cgroup, String mountRoot) throws IOException {
        Files.createDirectories(proc.resolve("self"));
        Files.writeString(proc.resolve("self/cgroup"), cgroup);
        Files.writeString(proc.resolve("self/mountinfo"), "30 22 0:27 " + mountRoot + " /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n");
    }

    private void group(String dir, String file, String content) throws IOException {
        Path d = Files.createDirectories(root.resolve(dir));
        Files.writeString(d.resolve(file), content + "\n");
    }
}
