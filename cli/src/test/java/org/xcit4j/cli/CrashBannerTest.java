package org.xcit4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xcit4j.TestData;

/**
 * A JVM crash started the way ./xcit starts the CLI (xcit_java in scripts/env.sh) must not
 * write its banner to stdout, where a caller parses results, while results still reach
 * stdout: the crash of a run whose weights file is truncated under it (SIGBUS), reproduced by
 * {@link SigbusProbe}.
 */
class CrashBannerTest {
    @TempDir
    Path tmp;

    @Test
    void aSigbusCrashReportsOnStderrOnly() throws Exception {
        Path env = TestData.root().resolve("scripts/env.sh");
        List<String> cmd = List.of("bash", "-c", "source \"$0\" && xcit_java \"$@\"", env.toString(),
                "-cp", System.getProperty("java.class.path"), SigbusProbe.class.getName(), tmp.resolve("weights.bin").toString());
        Path out = tmp.resolve("out"), err = tmp.resolve("err");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().put("XCIT_JAVA_OPTS", "-XX:ErrorFile=" + tmp.resolve("hs_err_pid%p.log") + " -XX:-CreateCoredumpOnCrash");
        Process p = pb.start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the probe JVM did not finish");
        String stderr = Files.readString(err);
        assertNotEquals(0, p.exitValue(), stderr);
        assertEquals("a result before the crash\n", Files.readString(out), "stdout: the results, and nothing of the crash");
        assertTrue(stderr.contains("A fatal error has been detected by the Java Runtime Environment") && stderr.contains("SIGBUS"),
                stderr);
    }
}
