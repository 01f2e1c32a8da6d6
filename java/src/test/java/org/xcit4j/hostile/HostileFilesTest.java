package org.xcit4j.hostile;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fuzz suite of issue 14: generated hostile safetensors, torch .pth, .npy and image files,
 * each read in a separate JVM ({@link ForkedProbe}) the way an application would, each of
 * which must be refused cleanly: the expected exception type, a one-line message that starts
 * with the file's name, within {@value ForkedProbe#PER_FILE_SECONDS} s and with the process's
 * peak resident memory while reading it at most {@link #PEAK_RSS_BYTES}.
 */
class HostileFilesTest {
    /** The acceptance bound on peak resident memory (the whole child JVM, ~60-100 MB of it its own). */
    static final long PEAK_RSS_BYTES = 1L << 30;

    @TempDir
    static Path dir;

    @TestFactory
    Stream<DynamicTest> hostileFilesAreRefusedCleanlyWithinTimeAndMemory() throws Exception {
        List<Case> cases = new ArrayList<>();
        cases.addAll(HostileCheckpoints.safetensorsFiles(dir));
        cases.addAll(HostileCheckpoints.torchFiles(dir));
        cases.addAll(HostileInputs.npyFiles(dir));
        cases.addAll(HostileInputs.imageFiles(dir));
        Map<Path, ForkedProbe.Outcome> outcomes = ForkedProbe.run(cases, dir);
        // The measured bounds, for the record (the assertions below use the fixed limits).
        outcomes.forEach((file, o) -> System.out.printf("hostile %-22s %6d ms  peak RSS %5d MiB  %s%n", file.getFileName(),
                o.millis(), o.peakRssBytes() >> 20, o.failure() != null ? o.failure() : String.valueOf(o.message())));
        return cases.stream().map(c -> DynamicTest.dynamicTest(c.reader() + ": " + c.name(), () -> check(c, outcomes.get(c.file()))));
    }

    private static void check(Case c, ForkedProbe.Outcome o) {
        String what = c.file().getFileName() + " (" + c.name() + ")";
        assertNull(o.failure(), () -> what + ": " + o.failure());
        assertFalse(o.types().isEmpty(), () -> what + " was accepted; expected " + c.refusal());
        String m = o.message();
        assertTrue(o.types().contains(c.refusal()), () -> what + ": expected " + c.refusal() + ", got " + o.types().getFirst() + ": " + m);
        assertTrue(m.startsWith(c.file() + ": "), () -> what + ": the message should start with the file: " + m);
        assertFalse(m.contains("\n"), () -> what + ": the message should be one line: " + m);
        for (String f : c.fragments()) assertTrue(m.contains(f), () -> what + ": the message should contain '" + f + "': " + m);
        assertTrue(o.peakRssBytes() <= PEAK_RSS_BYTES, () -> what + ": peak RSS " + (o.peakRssBytes() >> 20)
                + " MiB while refusing it, above " + (PEAK_RSS_BYTES >> 20) + " MiB");
    }
}
