package org.xcit4j.hostile;

import com.google.gson.Gson;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.xcit4j.image.ImageDecoder;
import org.xcit4j.image.Preprocessing;
import org.xcit4j.io.Npy;
import org.xcit4j.model.Xcit;

/**
 * The child side of {@link ForkedProbe}: reads each file given as {@code READER=PATH} the way
 * an application would, and prints one JSON line per file with what was thrown, the
 * process's peak resident memory while reading it (VmHWM, reset before each file through
 * /proc/self/clear_refs) and the time taken. Runs in its own JVM so that a file that hangs or
 * allocates without bound can be stopped and measured without harming the test JVM. After a
 * file that raised an Error (memory exhausted) or went over {@link #RESTART_ABOVE_BYTES}, it
 * exits with {@link #RESTART} so that the next file starts in a clean JVM.
 */
public final class RefusalProbe {
    /** Marks result lines; anything else on stdout is not the probe's. */
    static final String PREFIX = "probe-result ";
    static final int RESTART = 3;
    static final long RESTART_ABOVE_BYTES = 1L << 30;

    private RefusalProbe() {
    }

    public static void main(String[] args) throws IOException {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        Gson gson = new Gson();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            Case.Reader reader = Case.Reader.valueOf(arg.substring(0, eq));
            Path file = Path.of(arg.substring(eq + 1));
            resetPeak();
            long t0 = System.nanoTime();
            Throwable thrown = null;
            try {
                read(reader, file);
            } catch (Throwable t) {
                thrown = t;
            }
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("file", file.toString());
            r.put("millis", (System.nanoTime() - t0) / 1_000_000);
            r.put("peakRssBytes", peakRssBytes());
            if (thrown != null) {
                r.put("types", hierarchy(thrown.getClass()));
                r.put("message", String.valueOf(thrown.getMessage()));
            }
            out.println(PREFIX + gson.toJson(r));
            if (thrown instanceof Error || (long) r.get("peakRssBytes") > RESTART_ABOVE_BYTES) System.exit(RESTART);
        }
    }

    private static void read(Case.Reader reader, Path file) throws IOException {
        switch (reader) {
            case CHECKPOINT -> {
                try (Xcit model = Xcit.load(file)) {
                    model.config();
                }
            }
            case NPY -> {
                try (Arena arena = Arena.ofConfined()) {
                    Npy.read(file, arena);
                }
            }
            case IMAGE -> Preprocessing.timm(224).resizeAndCrop(new ImageDecoder().decode(file));
        }
    }

    private static List<String> hierarchy(Class<?> c) {
        List<String> names = new ArrayList<>();
        for (Class<?> k = c; k != null; k = k.getSuperclass()) names.add(k.getName());
        return names;
    }

    /** Writing 5 to clear_refs resets the peak resident set size (Linux 4.0+). */
    private static void resetPeak() throws IOException {
        Files.writeString(Path.of("/proc/self/clear_refs"), "5");
    }

    private static long peakRssBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
        throw new IOException("no VmHWM in /proc/self/status");
    }
}
