package org.xcit4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.xcit4j.cli.ClassifyCommandTest.EXAMPLES;
import static org.xcit4j.cli.ClassifyCommandTest.WEIGHTS;
import static org.xcit4j.cli.ClassifyCommandTest.xcit;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.xcit4j.Approx;
import org.xcit4j.TestData;
import org.xcit4j.backend.Backends;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.Precision;
import org.xcit4j.backend.cpu.CpuInfo;

/**
 * {@code --precision} on every command that runs the model: accepted where the device can
 * compute in it, refused with one line naming the option and the device where it cannot.
 */
class PrecisionOptionTest {
    private static final CpuInfo WITH_BF16 = new CpuInfo("test", 2, Set.of("avx2", "avx512f", "avx512_bf16"));
    private static final CpuInfo WITHOUT_BF16 = new CpuInfo("test", 2, Set.of("avx2", "fma", "avx512f"));

    @TempDir
    Path tmp;

    /** The model-running commands, each with its other required arguments, ready for --device and --precision. */
    private List<String[]> commands() {
        Path dir = TestData.golden("tiny_p16");
        String weights = dir.resolve("model.safetensors").toString();
        return List.of(
                new String[] {"classify", EXAMPLES.resolve("bag_18.png").toString(), "--weights", WEIGHTS},
                new String[] {"forward", "--weights", weights, "--tokens-norm", "true", "--input",
                        dir.resolve("input.npy").toString(), "--output", tmp.resolve("y.npy").toString()},
                new String[] {"explain", EXAMPLES.resolve("bag_18.png").toString(), "--weights", WEIGHTS, "--output",
                        tmp.resolve("heat.png").toString()},
                new String[] {"bench", "--model", "xcit_nano_12_p16", "--size", "32"},
                new String[] {"selftest", "--models", "xcit_nano_12_p16", "--sizes", "32"});
    }

    private static String[] with(String[] base, String... more) {
        List<String> all = new ArrayList<>(List.of(base));
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    private static void assertRefused(ClassifyCommandTest.Result r, String... fragments) {
        assertEquals(2, r.code(), "a usage error: " + r.err());
        assertEquals(1, r.err().lines().count(), "one line: " + r.err());
        assertTrue(r.err().startsWith("xcit: "), r.err());
        for (String f : fragments) assertTrue(r.err().contains(f), "'" + f + "' in: " + r.err());
    }

    @ParameterizedTest
    @ValueSource(strings = {"tf32", "fp16", "bf16"})
    void theJavaReferenceRefusesEveryReducedPrecision(String precision) {
        for (String[] c : commands()) {
            assertRefused(xcit(with(c, "--device", "java", "--precision", precision)),
                    "--precision " + precision + " is not available on --device java", "fp32 only");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tf32", "fp16"})
    void theCpuRefusesTheCudaModes(String precision) {
        for (String[] c : commands()) {
            assertRefused(xcit(with(c, "--device", "cpu", "--precision", precision)),
                    "--precision " + precision + " is not available on --device cpu", "fp32 or bf16");
        }
    }

    @Test
    void everyCommandTakesEveryPrecisionOnCuda() {
        String reason = Backends.cudaUnavailableReason();
        assumeTrue(reason != null, "a CUDA device is present: the commands would run for real");
        for (String[] c : commands()) {
            for (String p : new String[] {"fp32", "tf32", "fp16", "bf16"}) {
                ClassifyCommandTest.Result r = xcit(with(c, "--device", "cuda", "--precision", p));
                // Past the option check: the device itself is what is missing.
                assertEquals(1, r.code(), c[0] + " " + p + ": " + r.err());
                assertTrue(r.err().contains("device 'cuda' is not available"), c[0] + " " + p + ": " + r.err());
            }
        }
    }

    @Test
    void anUnknownPrecisionIsAUsageError() {
        for (String[] c : commands()) {
            assertRefused(xcit(with(c, "--precision", "fp8")), "--precision: unknown precision 'fp8': expected fp32, tf32, fp16 or bf16");
        }
    }

    @Test
    void refusalsPerDeviceAndCpu() {
        for (Precision p : Precision.values()) {
            assertNull(ExecutionOptions.PrecisionOption.refusal(Device.CUDA, p, WITHOUT_BF16, () -> "no driver"));
            assertNull(ExecutionOptions.PrecisionOption.refusal(Device.AUTO, p, WITHOUT_BF16, () -> null), "cuda present");
        }
        assertNull(ExecutionOptions.PrecisionOption.refusal(Device.CPU, Precision.BF16, WITH_BF16, () -> "no driver"));
        assertNull(ExecutionOptions.PrecisionOption.refusal(Device.AUTO, Precision.BF16, WITH_BF16, () -> "no driver"));
        assertNull(ExecutionOptions.PrecisionOption.refusal(Device.AUTO, Precision.FP32, WITHOUT_BF16, () -> "no driver"));
        assertEquals("--precision bf16 is not available on --device cpu: bf16 on the cpu needs avx512_bf16, which this CPU "
                        + "lacks (it has: avx2 fma avx512f)",
                ExecutionOptions.PrecisionOption.refusal(Device.CPU, Precision.BF16, WITHOUT_BF16, () -> null));
        assertEquals("--precision fp16 is not available on --device auto: cuda is not available (no driver) and the cpu "
                        + "computes in fp32 or bf16 (fp16 is a cuda mode)",
                ExecutionOptions.PrecisionOption.refusal(Device.AUTO, Precision.FP16, WITH_BF16, () -> "no driver"));
    }

    @Test
    void cpuBf16PredictsTheSameClassesAsFp32OnTheDemoModel() {
        String reason = Backends.cpuUnavailableReason();
        assumeTrue(reason == null, () -> "the native cpu backend is not available: " + reason);
        CpuInfo cpu = CpuInfo.detect();
        assumeTrue(cpu.has("avx512_bf16"), () -> "bf16 on the cpu needs avx512_bf16; this CPU has: " + cpu.relevantFlags());
        String[] base = {"classify", EXAMPLES.toString(), "--weights", WEIGHTS, "--device", "cpu", "--top", "1", "--quiet"};
        ClassifyCommandTest.Result fp32 = xcit(with(base, "--precision", "fp32"));
        ClassifyCommandTest.Result bf16 = xcit(with(base, "--precision", "bf16"));
        assertEquals(0, fp32.code(), fp32.err());
        assertEquals(0, bf16.code(), bf16.err());
        List<String> want = topLabels(fp32.out()), got = topLabels(bf16.out());
        assertTrue(want.size() >= 10, "every example: " + fp32.out());
        assertEquals(want, got, "bf16 top-1 against fp32 top-1, file by file");
    }

    /** "file: label p" per line -> "file: label" (the probabilities differ by the rounding). */
    private static List<String> topLabels(String out) {
        return out.lines().map(l -> l.substring(0, l.lastIndexOf(' '))).toList();
    }

    @Test
    void selftestAndTheDeviceTestsShareTheirBounds() {
        for (Precision p : Precision.values()) assertEquals(Approx.relToMax(p), SelftestCommand.tolerance(p), p.toString());
    }
}
