package org.xcit4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xcit4j.backend.Backends;

/**
 * scripts/gpu-check.sh without a GPU: its summary table from canned logs of a real H200 run
 * (testdata/gpu-check), its plan (--dry-run), and its refusal where there is no CUDA device.
 */
class GpuCheckScriptTest {
    private static final Path SCRIPT = TestData.root().resolve("scripts/gpu-check.sh");

    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {
    }

    private static Run script(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash", SCRIPT.toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).directory(TestData.root().toFile());
        // The test JVM's own runtime and classes: the script needs no jar then.
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().remove("OUT");
        Process p = pb.start();
        p.getOutputStream().close();
        // Both streams are small (no pipe fills up); the no-device path is one JVM start.
        if (!p.waitFor(2, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("gpu-check.sh " + String.join(" ", args) + " did not end within 2 minutes");
        }
        return new Run(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : files.toList()) {
                Path target = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) Files.createDirectories(target);
                else Files.copy(f, target);
            }
        }
    }

    @Test
    void summaryTableFromTheLogsOfARealRun() throws Exception {
        Path logs = tmp.resolve("logs");
        copyTree(TestData.root().resolve("testdata/gpu-check/logs"), logs);
        Run r = script("--summarize", logs.toString());
        assertEquals(Files.readString(TestData.root().resolve("testdata/gpu-check/expected-summary.md")), r.out(), r.err());
        assertEquals(1, r.code(), "rows FAILED, TIMEOUT, SKIPPED and not run: exit 1");
        assertEquals(r.out(), Files.readString(logs.resolve("summary.md")), "the table is kept beside the logs");
    }

    @Test
    void allOkExitsZero() throws Exception {
        Path logs = tmp.resolve("logs");
        Files.createDirectories(logs.resolve("ctest"));
        Files.writeString(logs.resolve("ctest/test_gpu_xca.log"), "test_emu_xca: 66 case(s) on the GPU: all checks passed\n");
        Files.writeString(logs.resolve("ctest/test_gpu_xca.rc"), "0\n");
        Run r = script("--summarize", logs.toString());
        // Everything else is "not run": still a failure. Only the C test row is ok.
        assertTrue(r.out().contains("| C test_gpu_xca | ok | test_emu_xca: 66 case(s) on the GPU: all checks passed | |"), r.out());
        assertEquals(1, r.code());
    }

    @Test
    void dryRunPrintsEveryStepOfTheFixedPlan() throws Exception {
        Run r = script("--dry-run", "--classpath", System.getProperty("java.class.path"), "--logs", tmp.toString());
        assertEquals(0, r.code(), r.err());
        for (String p : new String[] {"fp32", "tf32", "fp16", "bf16"}) {
            assertTrue(r.out().contains("selftest --device cuda --precision " + p
                    + " --models xcit_nano_12_p16,xcit_small_12_p16,xcit_small_12_p8 --sizes 224,384"), r.out());
        }
        assertTrue(r.out().contains("bench --model xcit_small_12_p16 --size 8192x8192 --batch 1 --precision bf16 --device cuda"), r.out());
        assertTrue(r.out().contains("bench --model xcit_small_12_p8 --size 4096x4096 --batch 1 --precision bf16 --device cuda"), r.out());
        assertEquals(10, r.out().lines().filter(l -> l.contains(" bench --model ")).count(), r.out());
    }

    @Test
    void withoutACudaDeviceItStopsAtOnceWithTheReason() throws Exception {
        String reason = Backends.cudaUnavailableReason();
        assumeTrue(reason != null, "a CUDA device is present: the check would run for real (minutes)");
        Run r = script("--classpath", System.getProperty("java.class.path"), "--logs", tmp.resolve("logs").toString());
        assertEquals(1, r.code(), r.out() + r.err());
        assertEquals("", r.out());
        assertTrue(r.err().startsWith("gpu-check: no CUDA device: "), r.err());
        assertTrue(r.err().contains(reason), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
    }
}
