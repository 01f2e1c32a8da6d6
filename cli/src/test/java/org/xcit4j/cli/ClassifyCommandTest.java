package org.xcit4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xcit4j.TestData;

/** {@code xcit classify}: outputs, per-file failures, exit codes, size and label resolution. */
class ClassifyCommandTest {
    static final Path REPO = TestData.root();
    static final String WEIGHTS = REPO.resolve("models/xcit_fashion_micro.safetensors").toString();
    static final Path EXAMPLES = REPO.resolve("examples/fashion");
    static final Path BROKEN = REPO.resolve("testdata/images/broken");

    @TempDir
    Path tmp;

    record Result(int code, String out, String err) {
        List<String> outLines() {
            return out.lines().toList();
        }
    }

    static Result xcit(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    /** "ankle-boot_0.png" -> "ankle boot", "t-shirt-top_1.png" -> "t-shirt/top". */
    static String trueLabel(String file) {
        String stem = Path.of(file).getFileName().toString().replaceFirst("_\\d+\\.png$", "");
        return stem.equals("t-shirt-top") ? "t-shirt/top" : stem.replace('-', ' ');
    }

    @Test
    void examplesDirectoryPrintsTheRightClassForEveryImage() throws Exception {
        Result r = xcit("classify", EXAMPLES.toString(), "--weights", WEIGHTS, "--device", "java", "--top", "3", "--quiet");
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err(), "--quiet: nothing on stderr when all succeed");
        long pngs;
        try (var s = Files.list(EXAMPLES)) {
            pngs = s.filter(p -> p.toString().endsWith(".png")).count();
        }
        assertEquals(pngs, r.outLines().size());
        assertTrue(pngs >= 10, "at least one example per class");
        for (String line : r.outLines()) {
            // "<file>: <label> <p> | <label> <p> | <label> <p>", sorted by file
            String file = line.substring(0, line.indexOf(".png: ") + 4);
            String first = line.substring(file.length() + 2).split(" \\| ")[0];
            assertEquals(trueLabel(file), first.substring(0, first.lastIndexOf(' ')), line);
            assertEquals(3, line.split(" \\| ").length, line);
        }
    }

    @Test
    void jsonLinesWithFailuresInTheBatch() throws Exception {
        Path boot = EXAMPLES.resolve("ankle-boot_0.png");
        Result r = xcit("classify", boot.toString(), BROKEN.resolve("truncated.jpg").toString(), BROKEN.resolve("bomb.png").toString(),
                tmp.resolve("missing.jpg").toString(), boot.toString(), "--weights", WEIGHTS, "--device", "java", "--json",
                "--batch", "2", "--quiet");
        assertEquals(1, r.code(), r.err());
        List<String> lines = r.outLines();
        assertEquals(5, lines.size(), r.out());
        JsonObject ok = JsonParser.parseString(lines.get(0)).getAsJsonObject();
        assertEquals(boot.toString(), ok.get("file").getAsString());
        JsonObject best = ok.getAsJsonArray("top").get(0).getAsJsonObject();
        assertEquals("ankle boot", best.get("label").getAsString());
        assertEquals(9, best.get("index").getAsInt());
        double p = best.get("probability").getAsDouble();
        assertTrue(p > 0 && p <= 1, "probability " + p);
        assertEquals(5, ok.getAsJsonArray("top").size(), "default --top 5");
        assertTrue(JsonParser.parseString(lines.get(1)).getAsJsonObject().get("error").getAsString().contains("truncated"), lines.get(1));
        String bomb = JsonParser.parseString(lines.get(2)).getAsJsonObject().get("error").getAsString();
        assertTrue(bomb.contains("400,000,000 pixels") && bomb.contains("--max-pixels"), bomb);
        assertTrue(JsonParser.parseString(lines.get(3)).getAsJsonObject().get("error").getAsString().contains("no such file"), lines.get(3));
        assertEquals(lines.get(0), lines.get(4), "same image, same answer, whatever its batch slot");
        assertEquals("xcit: 3 of 5 images failed", r.err().strip());
    }

    @Test
    void textModeReportsEachFailureOnStderr() throws Exception {
        Path example;
        try (var s = Files.list(EXAMPLES)) {
            example = s.filter(p -> p.toString().endsWith(".png")).sorted().findFirst().orElseThrow();
        }
        Result r = xcit("classify", example.toString(), BROKEN.resolve("not_an_image.png").toString(),
                "--weights", WEIGHTS, "--device", "java", "--quiet", "--top", "1");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.out().strip().matches(java.util.regex.Pattern.quote(example + ": " + trueLabel(example.toString()))
                + " \\d\\.\\d{3}"), r.out());
        List<String> err = r.err().lines().toList();
        assertEquals(2, err.size(), r.err());
        assertTrue(err.get(0).startsWith("xcit: " + BROKEN.resolve("not_an_image.png") + ": not a readable image"), err.get(0));
        assertEquals("xcit: 1 of 2 images failed", err.get(1));
    }

    @Test
    void inputSizeAndLabelsComeFromOptionsMetadataOrZoo() throws Exception {
        // A golden checkpoint without metadata: no input size known.
        String golden = TestData.golden("tiny_p16").resolve("model.safetensors").toString();
        String image = REPO.resolve("testdata/images/rgb.png").toString();
        Result noSize = xcit("classify", image, "--weights", golden, "--tokens-norm", "true", "--device", "java");
        assertEquals(1, noSize.code());
        assertFalse(noSize.err().strip().contains("\n"), noSize.err());
        assertTrue(noSize.err().contains("--size"), noSize.err());
        Result sized = xcit("classify", image, "--weights", golden, "--tokens-norm", "true", "--device", "java", "--size", "64",
                "--top", "2", "--json", "--quiet");
        assertEquals(0, sized.code(), sized.err());
        assertTrue(JsonParser.parseString(sized.out()).getAsJsonObject().getAsJsonArray("top").get(0).getAsJsonObject()
                .get("label").getAsString().startsWith("class "), sized.out());

        Path labels = tmp.resolve("labels.txt");
        Files.writeString(labels, "only\nthree\nnames\n");
        Result wrong = xcit("classify", image, "--weights", WEIGHTS, "--labels", labels.toString(), "--device", "java");
        assertEquals(1, wrong.code());
        assertTrue(wrong.err().strip().endsWith("labels.txt has 3 class names but the model has 10 classes"), wrong.err());

        Result empty = xcit("classify", tmp.toString(), "--weights", WEIGHTS);
        assertEquals(1, empty.code());
        assertTrue(empty.err().startsWith("xcit: no images found in " + tmp), empty.err());
    }
}
