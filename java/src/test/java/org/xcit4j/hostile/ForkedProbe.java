package org.xcit4j.hostile;

import com.google.gson.Gson;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@link RefusalProbe} over hostile files in a separate, memory-capped JVM and collects
 * one {@link Outcome} per file. The child's address space is capped (ulimit -v) so that a
 * loader that allocates without bound fails there with an OutOfMemoryError instead of taking
 * the machine's memory; its heap is capped by -Xmx. A file that gets no answer within
 * {@link #PER_FILE_SECONDS} is recorded as hanging, the child is killed, and a fresh one
 * carries on with the files after it.
 */
final class ForkedProbe {
    /** The acceptance bound: a hostile file is refused within this many seconds. */
    static final int PER_FILE_SECONDS = 30;
    /**
     * Virtual memory of the child: the JVM reserves ~1 GB at start with the flags below
     * (heap, code cache, class space, thread stacks), which leaves ~2 GB for what a loader
     * allocates; the peak resident bound is asserted on top of that (see the test).
     */
    private static final long ADDRESS_SPACE_KB = 3L << 20;
    private static final List<String> JVM = List.of("--enable-native-access=ALL-UNNAMED", "-Xmx512m", "-Xss4m",
            "-XX:+UseSerialGC", "-XX:ReservedCodeCacheSize=64m", "-XX:CompressedClassSpaceSize=64m",
            "-XX:MaxMetaspaceSize=192m", "-XX:-CreateCoredumpOnCrash");

    /**
     * What reading one file did. {@code failure} is set when the child gave no answer (hung,
     * or died); otherwise {@code types} is the thrown class and its superclasses (empty when
     * the file was accepted) and {@code message} its message.
     */
    record Outcome(String file, long millis, long peakRssBytes, List<String> types, String message, String failure) {
    }

    private ForkedProbe() {
    }

    static Map<Path, Outcome> run(List<Case> cases, Path workDir) throws IOException, InterruptedException {
        Map<Path, Outcome> results = new LinkedHashMap<>();
        List<Case> remaining = new ArrayList<>(cases);
        while (!remaining.isEmpty()) {
            Path stderr = Files.createTempFile(workDir, "probe", ".err");
            Process p = start(remaining, stderr, workDir);
            BlockingQueue<String> lines = pump(p);
            boolean answered = false;
            while (!remaining.isEmpty()) {
                String line = lines.poll(PER_FILE_SECONDS, TimeUnit.SECONDS);
                if (line == null || line.isEmpty()) {
                    boolean hung = line == null;
                    if (hung) p.destroyForcibly();
                    int exit = p.waitFor();
                    if (!hung && exit == RefusalProbe.RESTART && answered) break;
                    Case c = remaining.removeFirst();
                    String why = hung ? "no answer within " + PER_FILE_SECONDS + " s (hangs)"
                            : "the probe JVM died (exit " + exit + "): " + tail(stderr);
                    results.put(c.file(), new Outcome(c.file().toString(), -1, -1, List.of(), null, why));
                    break;
                }
                if (!line.startsWith(RefusalProbe.PREFIX)) continue; // not the probe's (it goes to the log)
                Outcome o = new Gson().fromJson(line.substring(RefusalProbe.PREFIX.length()), Outcome.class);
                Case c = remaining.removeFirst();
                answered = true;
                results.put(c.file(), new Outcome(o.file(), o.millis(), o.peakRssBytes(),
                        o.types() == null ? List.of() : o.types(), o.message(), null));
            }
            p.destroyForcibly().waitFor();
        }
        return results;
    }

    private static Process start(List<Case> cases, Path stderr, Path workDir) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("/bin/sh", "-c", "ulimit -v " + ADDRESS_SPACE_KB + " && exec \"$0\" \"$@\"",
                Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(JVM);
        // A JVM that runs out of native memory writes its fatal-error report: to stderr and the work directory.
        cmd.addAll(List.of("-XX:+DisplayVMOutputToStderr", "-XX:ErrorFile=" + workDir.resolve("hs_err_pid%p.log"),
                "-XX:ReplayDataFile=" + workDir.resolve("replay_pid%p.log")));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), RefusalProbe.class.getName()));
        for (Case c : cases) cmd.add(c.reader() + "=" + c.file());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(stderr.toFile());
        // glibc's per-thread malloc arenas each reserve 64 MB of address space.
        pb.environment().put("MALLOC_ARENA_MAX", "2");
        return pb.start();
    }

    /** The child's stdout as lines; an empty string marks its end. */
    private static BlockingQueue<String> pump(Process p) {
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) if (!line.isEmpty()) lines.add(line);
            } catch (IOException e) {
                // the child was killed: end of output
            }
            lines.add("");
        }, "probe-output");
        t.setDaemon(true);
        t.start();
        return lines;
    }

    private static String tail(Path file) throws IOException {
        String s = Files.readString(file);
        return s.length() <= 2000 ? s : s.substring(s.length() - 2000);
    }
}
