package org.xcit4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job behind ./xcit-spark, run in this JVM on local[2]: the Parquet it writes, read back
 * by its show command, equals xcit classify --json on the same arguments, failures included.
 * (scripts/check-xcit-spark.sh does the same through both launchers.)
 */
class SparkClassifyTest {
    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {
    }

    static Run xcitSpark(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = SparkClassify.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void writesParquetWithTheClisAnswersAndErrors() throws Exception {
        Path bad = Files.writeString(tmp.resolve("corrupt.png"), "not an image");
        Path missing = tmp.resolve("missing.jpg");
        Path output = tmp.resolve("out");
        String[] inputs = {Fixtures.EXAMPLES.toString(), bad.toString(), missing.toString()};
        String weights = Fixtures.WEIGHTS.toString();

        Run run = xcitSpark(concat(new String[] {"classify", "--weights", weights, "--output", output.toString(), "--master", "local[2]",
                "--top", "3", "--features"}, inputs));
        assertEquals(1, run.code(), "an image failed: exit 1, as xcit classify\n" + run.err());
        assertTrue(run.err().contains("xcit-spark: 22 images (2 failed)"), run.err());
        assertTrue(run.err().contains(missing + ": no such file"), run.err());

        StructType schema = Fixtures.spark().read().parquet(output.toString()).schema();
        assertEquals(List.of("path", "label", "probability", "top", "error", "features"), List.of(schema.fieldNames()));
        assertEquals("array<struct<label:string,index:int,probability:double>>", schema.apply("top").dataType().simpleString());

        Run show = xcitSpark("show", output.toString(), "--master", "local[2]");
        assertEquals(0, show.code(), show.err());
        Map<String, JsonObject> cli = Fixtures.cli(concat(new String[] {"--weights", weights, "--top", "3"}, inputs));
        List<String> want = cli.values().stream().map(Object::toString).sorted().toList();
        assertEquals(want, show.out().lines().sorted().toList());

        Run again = xcitSpark("classify", "--weights", weights, "--output", output.toString(), "--master", "local[2]", inputs[0]);
        assertEquals(1, again.code());
        assertTrue(again.err().contains("already exists"), again.err());
        assertEquals(0, xcitSpark("classify", "--weights", weights, "--output", output.toString(), "--master", "local[2]",
                "--overwrite", inputs[0]).code());
        assertEquals(2, xcitSpark("classify", inputs[0]).code(), "usage error without --weights");
    }

    static String[] concat(String[] a, String[] b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
