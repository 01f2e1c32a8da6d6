package org.xcit4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.xcit4j.cli.CliTest.assertOneLineError;
import static org.xcit4j.cli.CliTest.xcit;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xcit4j.TestData;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Every CLI failure is one line on stderr naming the file or argument, with a non-zero exit:
 * errors picocli does not handle (out of memory, faults in mapped memory), I/O errors while
 * writing, hostile inputs and non-finite numbers (which must never reach JSON as NaN).
 */
class CliFailureTest {
    static final Path REPO = TestData.root();
    static final String WEIGHTS = REPO.resolve("models/xcit_fashion_micro.safetensors").toString();
    static final Path IMAGE = REPO.resolve("examples/fashion/ankle-boot_0.png");

    @TempDir
    Path tmp;

    /** Throws what it is given, as a command would fail deep inside. */
    @Command(name = "boom")
    static final class Boom implements Callable<Integer> {
        final Error error;

        Boom(Error error) {
            this.error = error;
        }

        @Override
        public Integer call() {
            throw error;
        }
    }

    private static CliTest.Result boom(Error e, String... extra) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cli = new CommandLine(new Main()).addSubcommand("boom", new Boom(e));
        String[] args = new String[1 + extra.length];
        args[0] = "boom";
        System.arraycopy(extra, 0, args, 1, extra.length);
        int code = Main.run(cli, args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new CliTest.Result(code, out.toString(), err.toString());
    }

    @Test
    void errorsPicocliDoesNotHandleAreOneLineToo() {
        assertOneLineError(boom(new OutOfMemoryError("Java heap space")), 1, "out of memory (Java heap space)", "XCIT_JAVA_OPTS", "xcit boom");
        assertOneLineError(boom(new InternalError("a fault occurred in an unsafe memory access operation")), 1,
                "was truncated or changed while in use");
        CliTest.Result verbose = boom(new StackOverflowError(), "--verbose");
        assertEquals(1, verbose.code());
        assertTrue(verbose.err().startsWith("xcit: stack overflow") && verbose.err().contains("\tat "), verbose.err());
    }

    @Test
    void aFullStdoutIsAFailure() {
        OutputStream full = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("No space left on device");
            }
        };
        StringWriter err = new StringWriter();
        int code = Main.run(new String[] {"info"}, new PrintWriter(full, true), new PrintWriter(err, true));
        assertEquals(1, code, err.toString());
        assertTrue(err.toString().contains("cannot write to standard output (disk full?)"), err.toString());
    }

    @Test
    void explainIntoAMissingDirectoryNamesItAndPrintsNoTrace() {
        // ImageIO.write(File) prints its stack trace on System.err itself; watch that too.
        PrintStream saved = System.err;
        ByteArrayOutputStream stray = new ByteArrayOutputStream();
        CliTest.Result r;
        try {
            System.setErr(new PrintStream(stray, true, StandardCharsets.UTF_8));
            r = xcit("explain", IMAGE.toString(), "--weights", WEIGHTS, "--size", "32", "--device", "java",
                    "--output", "/nonexistent/x.png");
        } finally {
            System.setErr(saved);
        }
        assertOneLineError(r, 1, "/nonexistent/x.png");
        assertEquals("", stray.toString(StandardCharsets.UTF_8), "nothing may bypass the command's error stream");
    }

    @Test
    void explainOfAnImageTooLongToResizeIsOneLine() throws IOException {
        // 80,000,000 x 1 (under the pixel limit): at a short side of 224 it would be 17.9e9 wide.
        Path row = Files.write(tmp.resolve("row.png"), org.xcit4j.hostile.HostilePng.grayZeros(80_000_000, 1));
        assertOneLineError(xcit("explain", row.toString(), "--weights", WEIGHTS, "--device", "java", "--output",
                tmp.resolve("heat.png").toString()), 1, "row.png");
    }

    @Test
    void aSymlinkLoopIsOneErrorAndTheBatchGoesOn() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("images"));
        Files.copy(IMAGE, dir.resolve("boot.png"));
        Files.createSymbolicLink(dir.resolve("again"), dir);
        CliTest.Result r = xcit("classify", dir.toString(), "--weights", WEIGHTS, "--device", "java", "--quiet");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.out().startsWith(dir.resolve("boot.png") + ": ankle boot"), r.out());
        assertTrue(r.err().contains(dir.resolve("again") + ": symbolic link loop"), r.err());
        assertTrue(r.err().contains("1 of 2 images failed"), r.err());
    }

    @Test
    void aSizeBeyondLongIsNamedNotOverflowed() {
        assertOneLineError(xcit("bench", "--model", "xcit_nano_12_p16", "--size", "2147483647x2147483647"), 2,
                "--size 2147483647x2147483647", "(1, 3, 2147483647, 2147483647)", "memory available");
    }

    @Test
    void nonFiniteWeightsWarnByNameAndNonFiniteLogitsAreErrorsNeverNaNInJson() throws Exception {
        Path weights = withNaN(tmp.resolve("nan.safetensors"), "head.weight");
        CliTest.Result r = xcit("classify", IMAGE.toString(), REPO.resolve("examples/fashion/ankle-boot_28.png").toString(),
                "--weights", weights.toString(), "--device", "java", "--json");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("warning: tensor 'head.weight' holds 1 NaN"), r.err());
        for (String line : r.out().strip().split("\n")) {
            JsonReader strict = new JsonReader(new StringReader(line));
            strict.setStrictness(Strictness.STRICT);
            JsonObject o = JsonParser.parseReader(strict).getAsJsonObject();
            assertTrue(o.get("error").getAsString().contains("NaN or infinite"), line);
        }

        Path x = tmp.resolve("x.npy"), y = tmp.resolve("y.npy");
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            org.xcit4j.io.Npy.write(x, org.xcit4j.tensor.Tensor.allocate(arena, 1, 3, 32, 32));
        }
        CliTest.Result f = xcit("forward", "--weights", weights.toString(), "--input", x.toString(), "--output", y.toString(),
                "--device", "java");
        assertEquals(0, f.code(), f.err());
        assertTrue(f.err().contains("warning: output 'logits' holds 1 NaN and 0 infinite values of 10"), f.err());
    }

    /** The demo model with the first value of {@code key} set to NaN. */
    private static Path withNaN(Path out, String key) throws IOException {
        byte[] b = Files.readAllBytes(Path.of(WEIGHTS));
        int n = (int) ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonObject header = JsonParser.parseString(new String(b, 8, n, StandardCharsets.UTF_8)).getAsJsonObject();
        long begin = header.getAsJsonObject(key).getAsJsonArray("data_offsets").get(0).getAsLong();
        ByteBuffer.wrap(b, (int) (8 + n + begin), 4).order(ByteOrder.LITTLE_ENDIAN).putFloat(Float.NaN);
        return Files.write(out, b);
    }
}
