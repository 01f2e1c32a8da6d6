package org.xcit4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xcit4j.Approx;
import org.xcit4j.TestData;
import org.xcit4j.io.Npy;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/** The CLI contract: outputs, exit codes, and one clear stderr line per error. */
class CliTest {
    @TempDir
    Path tmp;

    record Result(int code, String out, String err) {
    }

    static Result xcit(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    static void assertOneLineError(Result r, int code, String... fragments) {
        assertEquals(code, r.code(), r.err());
        String err = r.err().strip();
        assertFalse(err.contains("\n"), "expected one line on stderr, got:\n" + err);
        assertFalse(err.contains("\tat "), "no stack trace without --verbose:\n" + err);
        for (String f : fragments) assertTrue(err.contains(f), "stderr lacks '" + f + "': " + err);
    }

    @Test
    void forwardWritesEveryOutputKindFromBothFormats() throws Exception {
        Path dir = TestData.golden("tiny_p16");
        for (String weights : new String[] {"model.safetensors", "model.pth"}) {
            for (String what : new String[] {"logits", "features", "tokens"}) {
                Path y = tmp.resolve(what + ".npy");
                Result r = xcit("forward", "--weights", dir.resolve(weights).toString(), "--tokens-norm", "true",
                        "--input", dir.resolve("input.npy").toString(), "--output", y.toString(), "--what", what, "--device", "java");
                assertEquals(0, r.code(), r.err());
                try (Arena arena = Arena.ofConfined()) {
                    Approx.assertGolden(weights + " " + what, Npy.read(dir.resolve(what + ".npy"), arena), Npy.read(y, arena));
                }
            }
        }
    }

    @Test
    void zooModelIsInferredAndCheckedAgainstModelName() throws Exception {
        Path dir = TestData.golden("xcit_nano_12_p16_224");
        Path y = tmp.resolve("y.npy");
        Result ok = xcit("forward", "--weights", dir.resolve("model.safetensors").toString(), "--model", "xcit_nano_12_p16_224.fb_in1k",
                "--input", dir.resolve("input.npy").toString(), "--output", y.toString(), "--device", "auto");
        assertEquals(0, ok.code(), ok.err());
        assertTrue(ok.err().contains("device auto: using cpu"), ok.err());
        try (Arena arena = Arena.ofConfined()) {
            Approx.assertGolden("nano logits", Npy.read(dir.resolve("logits.npy"), arena), Npy.read(y, arena));
        }
        Result wrong = xcit("forward", "--weights", dir.resolve("model.safetensors").toString(), "--model", "xcit_tiny_12_p16",
                "--input", dir.resolve("input.npy").toString(), "--output", y.toString());
        assertOneLineError(wrong, 1, "model.safetensors", "xcit_nano_12_p16", "xcit_tiny_12_p16");
    }

    @Test
    void badInputsGiveOneClearLine() throws Exception {
        Path dir = TestData.golden("tiny_p16");
        String weights = dir.resolve("model.safetensors").toString();
        Path y = tmp.resolve("y.npy");
        try (Arena arena = Arena.ofConfined()) {
            Path rank3 = tmp.resolve("rank3.npy");
            Npy.write(rank3, Tensor.allocate(arena, Shape.of(3, 8, 8)));
            assertOneLineError(xcit("forward", "--weights", weights, "--tokens-norm", "true", "--input", rank3.toString(),
                    "--output", y.toString()), 1, "rank3.npy", "(B, 3, H, W)", "(3, 8, 8)");
            Path fourChannels = tmp.resolve("rgba.npy");
            Npy.write(fourChannels, Tensor.allocate(arena, Shape.of(1, 4, 8, 8)));
            assertOneLineError(xcit("forward", "--weights", weights, "--tokens-norm", "true", "--input", fourChannels.toString(),
                    "--output", y.toString()), 1, "rgba.npy", "(1, 4, 8, 8)");
        }
        Path f64 = tmp.resolve("f64.npy");
        byte[] header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 3, 1, 1), }".getBytes();
        byte[] file = new byte[10 + 118 + 24];
        System.arraycopy(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0}, 0, file, 0, 10);
        java.util.Arrays.fill(file, 10, 128, (byte) ' ');
        System.arraycopy(header, 0, file, 10, header.length);
        file[127] = '\n';
        Files.write(f64, file);
        assertOneLineError(xcit("forward", "--weights", weights, "--input", f64.toString(), "--output", y.toString()), 1,
                "f64.npy", "<f8");
        assertOneLineError(xcit("forward", "--weights", weights, "--model", "xcit_gigantic", "--input",
                dir.resolve("input.npy").toString(), "--output", y.toString()), 1, "unknown model 'xcit_gigantic'");
        assertOneLineError(xcit("forward", "--weights", tmp.resolve("absent.safetensors").toString(), "--input",
                dir.resolve("input.npy").toString(), "--output", y.toString()), 1, "absent.safetensors");
        assertOneLineError(xcit("forward", "--weights", weights, "--input", dir.resolve("input.npy").toString(),
                "--output", y.toString()), 1, "tokens_norm", "--tokens-norm");
        assertFalse(Files.exists(y), "no output is written when the command fails");
    }

    @Test
    void maliciousAndMalformedCheckpointsGiveOneLineAndNoSideEffect() throws Exception {
        Path dir = TestData.golden("tiny_p16");
        Path marker = tmp.resolve("pwned");
        // A torch.save-style zip whose pickle calls os.system("touch <marker>") when unpickled naively.
        String cmd = "touch " + marker;
        java.io.ByteArrayOutputStream pkl = new java.io.ByteArrayOutputStream();
        pkl.writeBytes(new byte[] {(byte) 0x80, 2});
        pkl.writeBytes("cos\nsystem\n".getBytes());
        pkl.write('X');
        pkl.writeBytes(java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(cmd.length()).array());
        pkl.writeBytes(cmd.getBytes());
        pkl.writeBytes(new byte[] {(byte) 0x85, 'R', '.'});
        Path evil = tmp.resolve("evil.pth");
        try (java.util.zip.ZipOutputStream zip = new java.util.zip.ZipOutputStream(Files.newOutputStream(evil))) {
            zip.putNextEntry(new java.util.zip.ZipEntry("archive/data.pkl"));
            zip.write(pkl.toByteArray());
            zip.closeEntry();
        }
        Path y = tmp.resolve("y.npy");
        String input = dir.resolve("input.npy").toString();
        assertOneLineError(xcit("forward", "--weights", evil.toString(), "--tokens-norm", "true", "--input", input,
                "--output", y.toString()), 1, "evil.pth", "os.system");
        assertFalse(Files.exists(marker), "the pickle must not have run anything");

        byte[] good = Files.readAllBytes(dir.resolve("model.safetensors"));
        Path truncated = tmp.resolve("truncated.safetensors");
        Files.write(truncated, java.util.Arrays.copyOf(good, good.length / 2));
        assertOneLineError(xcit("forward", "--weights", truncated.toString(), "--tokens-norm", "true", "--input", input,
                "--output", y.toString()), 1, "truncated.safetensors");
        assertFalse(Files.exists(y), "no output is written when the checkpoint is refused");
    }

    @Test
    void unavailableDevicesAreRefusedClearly() {
        Path dir = TestData.golden("tiny_p16");
        String[] base = {"forward", "--weights", dir.resolve("model.safetensors").toString(), "--tokens-norm", "true",
                "--input", dir.resolve("input.npy").toString(), "--output", tmp.resolve("y.npy").toString(), "--device"};
        assertOneLineError(xcit(concat(base, "cuda")), 1, "device 'cuda' is not available");
        assertOneLineError(xcit(concat(base, "tpu")), 1, "unknown device 'tpu'");
    }

    @Test
    void selftestWithoutAGpuFailsWithTheReason() {
        org.junit.jupiter.api.Assumptions.assumeTrue(org.xcit4j.backend.Backends.cudaUnavailableReason() != null,
                "a CUDA device is present: the self-test would run for real");
        assertOneLineError(xcit("selftest", "--device", "cuda", "--models", "xcit_nano_12_p16", "--sizes", "32"), 1,
                "device 'cuda' is not available", org.xcit4j.backend.Backends.cudaUnavailableReason());
    }

    @Test
    void selftestRunsTheComparisonOnTheJavaBackend() {
        // The command's own logic without a GPU: java against the CPU reference (java here).
        Result r = xcit("selftest", "--device", "java", "--models", "xcit_nano_12_p16", "--sizes", "32,48", "--runs", "1");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("xcit_nano_12_p16_32:") && r.out().contains("xcit_nano_12_p16_48:"), r.out());
        assertTrue(r.out().contains("logits") && r.out().contains("all outputs within tolerance"), r.out());
        for (String level : new String[] {"stride4", "stride8", "stride16", "stride32"}) {
            assertTrue(r.out().contains("  " + level + " "), level + " not compared: " + r.out());
        }
    }

    @Test
    void verboseAddsTheStackTrace() {
        Result r = xcit("forward", "--verbose", "--weights", tmp.resolve("absent.pth").toString(), "--input", "x.npy", "--output", "y.npy");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("\tat "), r.err());
    }

    @Test
    void usageErrorsExitWithTwo() {
        Result r = xcit("forward", "--weights", "w.safetensors");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--input"), r.err());
    }

    @Test
    void infoListsRuntimeNativeLibrariesCpuAndZoo() {
        Result r = xcit("info");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("java: 25"), r.out());
        assertTrue(r.out().contains("native library xcit: /"), r.out());
        assertTrue(r.out().contains("cpu:"), r.out());
        assertTrue(r.out().contains("cuda:"), r.out());
        assertTrue(r.out().contains("xcit_large_24_p8_384"), r.out());
    }

    private static String[] concat(String[] a, String b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + 1);
        r[a.length] = b;
        return r;
    }
}
