package org.xcit4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
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
 * (testdata/gpu-check), its plan (--dry-run), and its refusal where there is no CUDA device;
 * and the same for the peers it times with --peers, bench/peers/peers_cuda.py (argument
 * handling, plan, refusal, and its table from synthetic records, testdata/peers-cuda).
 */
class GpuCheckScriptTest {
    private static final Path SCRIPT = TestData.root().resolve("scripts/gpu-check.sh");
    private static final Path PEERS = TestData.root().resolve("bench/peers/peers_cuda.py");

    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {
    }

    private static Run script(String... args) throws IOException, InterruptedException {
        return scriptWithEnv(java.util.Map.of(), args);
    }

    private static Run scriptWithEnv(java.util.Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash", SCRIPT.toString()));
        command.addAll(List.of(args));
        return run(command, env);
    }

    /** peers_cuda.py with every GPU hidden from torch, where torch is installed at all. */
    private static Run peers(String... args) throws IOException, InterruptedException {
        assumeTrue(new ProcessBuilder("python3", "--version").start().waitFor() == 0, "no python3");
        List<String> command = new ArrayList<>(List.of("python3", PEERS.toString()));
        command.addAll(List.of(args));
        return run(command, java.util.Map.of());
    }

    private static Run run(List<String> command, java.util.Map<String, String> env) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).directory(TestData.root().toFile());
        pb.environment().remove("XCIT_JAVA_OPTS");
        pb.environment().putAll(env);
        // The test JVM's own runtime and classes: the script needs no jar then.
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().put("CUDA_VISIBLE_DEVICES", "");
        pb.environment().remove("OUT");
        // Into files, not pipes: a dry run prints the test JVM's whole class path on every line,
        // more than a pipe holds while nobody reads it.
        Path out = Files.createTempFile("gpu-check", ".out"), err = Files.createTempFile("gpu-check", ".err");
        try {
            Process p = pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            // The no-device path is one JVM start.
            if (!p.waitFor(2, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new AssertionError(String.join(" ", command) + " did not end within 2 minutes");
            }
            return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
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
        assertTrue(r.out().contains("bench --model xcit_small_12_p16 --size 8192x8192 --batch 1 --precision fp32 --device cuda"), r.out());
        assertTrue(r.out().contains("bench --model xcit_small_12_p8 --size 4096x4096 --batch 1 --precision fp32 --device cuda"), r.out());
        assertEquals(18, r.out().lines().filter(l -> l.contains(" bench --model ")).count(), r.out());
        // The cuDNN pair (opt-in -Dxcit.cuda.cudnn=true): the same bench case and two selftests with it on.
        List<String> cudnn = r.out().lines().filter(l -> l.contains(" -Dxcit.cuda.cudnn=true ")).toList();
        assertEquals(3, cudnn.size(), r.out());
        assertTrue(cudnn.get(0).contains("selftest --device cuda --precision fp32 "), cudnn.get(0));
        assertTrue(cudnn.get(1).contains("selftest --device cuda --precision bf16 "), cudnn.get(1));
        assertTrue(cudnn.get(2).contains("bench --model xcit_small_12_p16 --size 224x224 --batch 256 --precision bf16 --device cuda"),
                cudnn.get(2));
        assertEquals(3, r.out().lines().filter(l -> l.contains("bench --model xcit_small_12_p16 --size 224x224 --batch 256 "))
                .count(), r.out());
        // The im2col variant (opt-in -Dxcit.cuda.im2col=true): a bf16 selftest and the bench cases of issue 13's targets.
        List<String> im2col = r.out().lines().filter(l -> l.contains(" -Dxcit.cuda.im2col=true ")).toList();
        assertEquals(List.of("selftest --device cuda --precision bf16 ",
                        "--size 224x224 --batch 1 --precision fp32 ", "--size 224x224 --batch 1 --precision bf16 ",
                        "--size 224x224 --batch 64 --precision bf16 ", "--size 224x224 --batch 256 --precision bf16 ",
                        "--size 1024x1024 --batch 1 --precision bf16 "),
                im2col.stream().map(l -> l.replaceAll(".*(selftest --device cuda --precision \\w+ |--size \\S+ --batch \\d+ --precision \\w+ ).*", "$1"))
                        .toList(), r.out());
        assertTrue(im2col.stream().noneMatch(l -> l.contains("cudnn")), r.out());
    }

    @Test
    void xcitJavaOptsReachEveryXcitCommand() throws Exception {
        Run r = scriptWithEnv(java.util.Map.of("XCIT_JAVA_OPTS", "-Dxcit.test.a=1 -Dxcit.test.b=2"),
                "--dry-run", "--classpath", "/no/such/classpath", "--logs", tmp.toString());
        assertEquals(0, r.code(), r.err());
        long xcit = r.out().lines().filter(l -> l.contains("org.xcit4j.cli.Main")).count();
        assertTrue(xcit >= 19, r.out());
        assertEquals(xcit, r.out().lines().filter(l -> l.contains(" -Dxcit.test.a=1 -Dxcit.test.b=2 ")).count(), r.out());
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

    @Test
    void peersOfTheGpuRunAreTabledWithTheBenchCases() throws Exception {
        Path logs = tmp.resolve("logs");
        copyTree(TestData.root().resolve("testdata/gpu-check/logs"), logs);
        Files.copy(TestData.root().resolve("testdata/peers-cuda/format-sample.jsonl"), logs.resolve("peers.jsonl"));
        Run r = script("--summarize", logs.toString());
        assertTrue(r.out().contains("| timm eager fp32 xcit_small_12_p16 224x224 b1 | ok | 4.000 ms | 250.0 |\n"), r.out());
        assertTrue(r.out().contains("| torch.compile bf16 xcit_small_12_p16 224x224 b1 | ok | 1.000 ms | 1000.0 |\n"), r.out());
        assertEquals(4, r.out().lines().filter(l -> l.contains(" xcit_small_12_p16 224x224 b1 | ok |")).count(),
                "the failed record has no row: " + r.out());
    }

    @Test
    void sanitizerRowsFromTheirLogs() throws Exception {
        Path logs = tmp.resolve("logs");
        copyTree(TestData.root().resolve("testdata/gpu-check/logs"), logs);
        Path dir = Files.createDirectories(logs.resolve("sanitize"));
        // The formats of the 2026-12-04 H200 run's sanitizer logs (../shared/gpu/results-2026-12-04).
        Files.writeString(dir.resolve("test_gpu_gemm_memcheck.log"),
                "========= COMPUTE-SANITIZER\ntest_emu_gemm: all checks passed\n========= ERROR SUMMARY: 0 errors\n");
        Files.writeString(dir.resolve("test_gpu_class_attention_racecheck.log"),
                "========= COMPUTE-SANITIZER\ntest_emu_class_attention: all checks passed\n"
                        + "========= RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)\n");
        Files.writeString(dir.resolve("test_gpu_class_attention_racecheck.rc"), "0\n");
        Files.writeString(dir.resolve("test_gpu_gemm_memcheck.rc"), "0\n");
        Files.writeString(dir.resolve("test_gpu_xca_racecheck.log"),
                "========= COMPUTE-SANITIZER\n========= Error: Race reported between Write access at xca_fused_kernel+0x1a0\n"
                        + "========= RACECHECK SUMMARY: 1 hazard displayed (1 error, 0 warnings)\n");
        Files.writeString(dir.resolve("test_gpu_xca_racecheck.rc"), "3\n");
        Files.writeString(dir.resolve("test_gpu_xca_memcheck.log"), "");
        Files.writeString(dir.resolve("test_gpu_xca_memcheck.rc"), "124\n");
        Files.writeString(dir.resolve("test_gpu_gemm_racecheck.none"), "no test_gpu_gemm in /somewhere\n");
        Run r = script("--summarize", logs.toString());
        assertTrue(r.out().contains("| sanitize memcheck test_gpu_gemm | ok | ERROR SUMMARY: 0 errors | |\n"), r.out());
        assertTrue(r.out().contains("| sanitize racecheck test_gpu_xca | FAILED | rc=3, RACECHECK SUMMARY: 1 hazard displayed "
                + "(1 error, 0 warnings); ========= Error: Race reported"), r.out());
        assertTrue(r.out().contains("| sanitize racecheck test_gpu_class_attention | ok | RACECHECK SUMMARY: 0 hazards displayed "
                + "(0 errors, 0 warnings) | |\n"), r.out());
        assertTrue(r.out().contains("| sanitize memcheck test_gpu_xca | TIMEOUT | after 180 s | |\n"), r.out());
        assertTrue(r.out().contains("| sanitize racecheck test_gpu_gemm | not run | no test_gpu_gemm in /somewhere | |\n"), r.out());
        assertEquals(1, r.code());
    }

    @Test
    void dryRunWithSanitizeRunsEachSanitizerCase() throws Exception {
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Path fake = bin.resolve("compute-sanitizer");
        Files.writeString(fake, "#!/bin/sh\nexit 0\n");
        assertTrue(fake.toFile().setExecutable(true));
        Run r = scriptWithEnv(java.util.Map.of("PATH", bin + ":" + System.getenv("PATH")), "--dry-run", "--sanitize",
                "--classpath", "/no/such/classpath", "--tests", "/gpu/tests", "--logs", tmp.resolve("logs").toString());
        assertEquals(0, r.code(), r.err());
        List<String> runs = r.out().lines().filter(l -> l.contains(fake + " --tool ")).toList();
        assertEquals(6, runs.size(), r.out());
        assertTrue(runs.get(0).equals("timeout 180 " + fake + " --tool memcheck --error-exitcode 3 /gpu/tests/test_gpu_gemm"),
                runs.get(0));
        assertTrue(runs.stream().anyMatch(l -> l.endsWith("--tool racecheck --error-exitcode 3 /gpu/tests/test_gpu_class_attention")),
                r.out());
    }

    /** ncu's details-page CSV as the 2026-12-04 H200 run's (ncu-b256-bf16.csv), one row per kernel. */
    private static String ncuRow(int id, String kernel, String unit, String value) {
        return "\"" + id + "\",\"2619\",\"java\",\"127.0.0.1\",\"" + kernel + "\",\"1\",\"13\",\"(256, 1, 1)\",\"(1500, 1, 1)\","
                + "\"0\",\"9.0\",\"Command line profiler metrics\",\"gpu__time_duration.sum\",\"" + unit + "\",\"" + value + "\"\n";
    }

    @Test
    void profileRowsTakeOneForwardFromTheInputToTheOutputs() throws Exception {
        Path logs = tmp.resolve("logs");
        copyTree(TestData.root().resolve("testdata/gpu-check/logs"), logs);
        Path dir = Files.createDirectories(logs.resolve("profile"));
        String header = "\"ID\",\"Process ID\",\"Process Name\",\"Host Name\",\"Kernel Name\",\"Context\",\"Stream\",\"Block Size\","
                + "\"Grid Size\",\"Device\",\"CC\",\"Section Name\",\"Metric Name\",\"Metric Unit\",\"Metric Value\"\n";
        String upload = "void <unnamed>::convert_kernel<float, __nv_bfloat16>(T2 *, const T1 *, long)";
        String csv = header
                + ncuRow(0, upload, "ns", "3,584")  // weight uploads: before the forward
                + ncuRow(1, "void <unnamed>::nchw_to_nhwc_kernel<__nv_bfloat16>(T1 *, const float *, long, long, long)", "ns", "50,000")
                + ncuRow(2, "void xcit::gemm_mma_kernel<__nv_bfloat16, false, <unnamed>::Window<__nv_bfloat16>, "
                        + "<unnamed>::WeightRows<__nv_bfloat16>, <unnamed>::PixelStore<__nv_bfloat16>>(T3, T4, T5, long, long, long, long)",
                        "ns", "1,500,000")
                + ncuRow(3, "nvjet_tst_192x128_64x4_2x1_v_bz_bias_TNT", "ns", "200,000")
                + ncuRow(4, "nvjet_tst_192x128_64x4_2x1_v_bz_bias_TNT", "ns", "250,000")
                + ncuRow(5, "void <unnamed>::convert_kernel<__nv_bfloat16, float>(T2 *, const T1 *, long)", "ns", "10,000")
                + ncuRow(6, "void <unnamed>::nchw_to_nhwc_kernel<__nv_bfloat16>(T1 *, const float *, long, long, long)", "ns", "9,999,999");
        Files.writeString(dir.resolve("xcit_small_12_p16_224x224_b256_bf16.csv"), csv);
        Files.writeString(dir.resolve("xcit_small_12_p16_224x224_b256_bf16.rc"), "0\n");
        // Cut off before the outputs' conversion: a failed row; a run that failed: its last line.
        Files.writeString(dir.resolve("xcit_small_12_p16_224x224_b256_bf16+im2col.csv"), header
                + ncuRow(1, "void <unnamed>::nchw_to_nhwc_kernel<__nv_bfloat16>(T1 *, const float *, long, long, long)", "usecond", "50"));
        Files.writeString(dir.resolve("xcit_small_12_p16_224x224_b256_bf16+im2col.rc"), "0\n");
        Files.writeString(dir.resolve("xcit_small_12_p16_224x224_b1_fp32.log"), "==ERROR== the profiler could not attach\n");
        Files.writeString(dir.resolve("xcit_small_12_p16_224x224_b1_fp32.rc"), "1\n");
        Run r = script("--summarize", logs.toString());
        String c = "profile xcit_small_12_p16 224x224 b256 bf16";
        assertTrue(r.out().contains("| " + c + " | ok | one forward: 2.010 ms of kernel time in 5 kernels | |\n"), r.out());
        assertTrue(r.out().contains("| " + c + ": gemm_mma_kernel | ok | 1.500 ms in 1 (74.6%) | |\n"), r.out());
        assertTrue(r.out().contains("| " + c + ": nvjet_tst_192x128_64x4_2x1_v_bz_bias_TNT | ok | 0.450 ms in 2 (22.4%) | |\n"), r.out());
        assertTrue(r.out().contains("| " + c + ": nchw_to_nhwc_kernel | ok | 0.050 ms in 1 (2.5%) | |\n"), r.out());
        assertTrue(r.out().contains("| " + c + ": convert_kernel | ok | 0.010 ms in 1 (0.5%) | |\n"), r.out());
        assertTrue(r.out().contains("| profile xcit_small_12_p16 224x224 b256 bf16+im2col | FAILED | one forward: 0.050 ms of kernel time "
                + "in 1 kernels before the profile ended (PROFILE_LAUNCHES 800 too few) | |\n"), r.out());
        assertTrue(r.out().contains("| profile xcit_small_12_p16 224x224 b1 fp32 | FAILED | rc=1: ==ERROR== the profiler could not attach | |\n"),
                r.out());
        assertEquals(1, r.code());
    }

    @Test
    void dryRunWithProfileRunsEachCaseUnderNcu() throws Exception {
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Path fake = bin.resolve("ncu");
        Files.writeString(fake, "#!/bin/sh\nexit 0\n");
        assertTrue(fake.toFile().setExecutable(true));
        Path logs = tmp.resolve("logs");
        Run r = scriptWithEnv(java.util.Map.of("PATH", bin + ":" + System.getenv("PATH")), "--dry-run", "--profile",
                "--classpath", "/no/such/classpath", "--logs", logs.toString());
        assertEquals(0, r.code(), r.err());
        List<String> runs = r.out().lines().filter(l -> l.startsWith("timeout ") && l.contains(fake + " --metrics")).toList();
        assertEquals(3, runs.size(), r.out());
        assertTrue(runs.get(0).startsWith("timeout 240 " + fake + " --metrics gpu__time_duration.sum --clock-control none "
                + "--cache-control none --launch-count 800 --target-processes all --export " + logs.resolve("profile")
                + "/xcit_small_12_p16_224x224_b256_bf16 --force-overwrite "), runs.get(0));
        assertTrue(runs.get(0).endsWith(" bench --model xcit_small_12_p16 --size 224x224 --batch 256 --precision bf16 --device cuda "
                + "--runs 1 --warmup 0"), runs.get(0));
        assertTrue(runs.get(1).contains(" -Dxcit.cuda.im2col=true "), runs.get(1));
        assertTrue(runs.get(2).contains("--batch 1 --precision fp32 "), runs.get(2));
        assertEquals(3, r.out().lines().filter(l -> l.startsWith(fake + " --import ") && l.endsWith(" --csv --page details --print-units base"))
                .count(), r.out());
    }

    @Test
    void dryRunWithPeersRunsPeersCudaOncePerModelSizeAndBatch() throws Exception {
        Run r = script("--dry-run", "--peers", "--classpath", System.getProperty("java.class.path"), "--logs", tmp.toString());
        assertEquals(0, r.code(), r.err());
        List<String> peers = r.out().lines().filter(l -> l.contains("peers_cuda.py")).toList();
        assertEquals(7, peers.size(), r.out());
        assertTrue(peers.get(0).contains("--case xcit_small_12_p16@224x224/1 --skip-ours"), peers.get(0));
        assertTrue(peers.stream().anyMatch(l -> l.contains("--case xcit_small_12_p16@224x224/256 ")), r.out());
    }

    @Test
    void peersCudaStopsAtOnceWithoutCuda() throws Exception {
        Run r = peers("--case", "xcit_nano_12_p16@224x224/1");
        assertEquals(1, r.code(), r.out() + r.err());
        assertEquals("", r.out());
        assertTrue(r.err().startsWith("peers_cuda: no CUDA device: "), r.err());
        assertTrue(r.err().strip().endsWith("nothing was run"), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
    }

    @Test
    void peersCudaRefusesBadArgumentsWithUsage() throws Exception {
        String[][] bad = {{"--case", "xcit_small_12_p16@224x224"}, {"--case", "xcit_small_12_p16@0x224/1"},
                          {"--tools", "eager-int8"}, {"--runs", "0"}};
        String[] says = {"expected MODEL@HxW/BATCH", "expected MODEL@HxW/BATCH", "unknown tools", "--runs must be"};
        for (int i = 0; i < bad.length; i++) {
            Run r = peers(bad[i]);
            assertEquals(2, r.code(), String.join(" ", bad[i]) + ": " + r.err());
            assertTrue(r.err().startsWith("usage: peers_cuda.py"), r.err());
            assertTrue(r.err().contains(says[i]), r.err());
        }
    }

    @Test
    void peersCudaDryRunPrintsTheSameWeightsForEveryTool() throws Exception {
        Run r = peers("--dry-run", "--case", "xcit_nano_12_p16@224x224/4", "--case", "xcit_small_12_p16@4096x4096/1",
                "--tools", "eager-fp32,compile-bf16,ours-bf16", "--runs", "7", "--warmup", "2", "--workdir", tmp.toString());
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(8, lines.size(), r.out());
        String nano = tmp.resolve("xcit_nano_12_p16_224x224").toString();
        assertTrue(lines.get(0).endsWith("peer_worker.py prepare --model xcit_nano_12_p16 --height 224 --width 224 --workdir " + nano),
                lines.get(0));
        assertTrue(lines.get(1).endsWith("cuda --model xcit_nano_12_p16 --height 224 --width 224 --workdir " + nano
                + " --batch 4 --precision fp32 --runs 7 --warmup 2"), lines.get(1));
        assertTrue(lines.get(2).endsWith("--precision bf16 --runs 7 --warmup 2 --compile --compile-mode reduce-overhead"), lines.get(2));
        assertTrue(lines.get(3).endsWith("xcit bench --weights " + nano + "/model.safetensors --size 224x224 --batch 4 --device cuda"
                + " --precision bf16 --runs 7 --warmup 2"), lines.get(3));
        assertTrue(lines.get(4).endsWith("--skip-flops"), "no CPU FLOP count at 4096^2: " + lines.get(4));
    }

    @Test
    void peersCudaTablesARunsRecords() throws Exception {
        Path sample = TestData.root().resolve("testdata/peers-cuda/format-sample.jsonl");
        Run r = peers("--summarize", sample.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(Files.readString(TestData.root().resolve("testdata/peers-cuda/expected-table.md")), r.out());
    }
}
