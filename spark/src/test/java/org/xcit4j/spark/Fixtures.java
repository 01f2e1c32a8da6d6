package org.xcit4j.spark;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.xcit4j.cli.Main;
import org.xcit4j.image.ImageDecoder;
import org.xcit4j.image.RgbImage;

/** The local SparkSession, the demo model and its images, and the CLI's answers for comparison. */
final class Fixtures {
    static final Path REPO = Path.of(System.getProperty("xcit.repo.root", "..")).toAbsolutePath().normalize();
    static final Path WEIGHTS = REPO.resolve("models/xcit_fashion_micro.safetensors");
    static final Path EXAMPLES = REPO.resolve("examples/fashion");
    /** 500 Fashion-MNIST test images as a 20 x 25 grid of 28 x 28 tiles (FashionDemoTest reads the same). */
    static final Path TEST_GRID = REPO.resolve("testdata/images/fashion/test_first_500.png");
    static final int TILE = 28;

    private Fixtures() {
    }

    /** One local[2] session for every test class in this JVM; no UI, two shuffle partitions. */
    static SparkSession spark() {
        return SparkSession.builder().master("local[2]").appName("xcit4j-spark-tests")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2")
                .getOrCreate();
    }

    /**
     * The bundled examples (copied to {@code dir/examples}) and the first {@code n} test-set
     * images (written to {@code dir/test} as 8-bit gray PNGs, as Fashion-MNIST distributes them).
     */
    static Path fashionImages(Path dir, int n) throws IOException {
        Path examples = Files.createDirectories(dir.resolve("examples"));
        try (Stream<Path> s = Files.list(EXAMPLES)) {
            for (Path p : s.filter(p -> p.toString().endsWith(".png")).toList()) Files.copy(p, examples.resolve(p.getFileName()));
        }
        Path test = Files.createDirectories(dir.resolve("test"));
        RgbImage grid = new ImageDecoder().decode(TEST_GRID);
        for (int i = 0; i < n; i++) {
            BufferedImage tile = new BufferedImage(TILE, TILE, BufferedImage.TYPE_BYTE_GRAY);
            int tx = i % 20 * TILE, ty = i / 20 * TILE;
            for (int y = 0; y < TILE; y++) {
                for (int x = 0; x < TILE; x++) tile.getRaster().setSample(x, y, 0, grid.get(tx + x, ty + y, 0));
            }
            ImageIO.write(tile, "png", test.resolve(String.format("test_%03d.png", i)).toFile());
        }
        return dir;
    }

    /** {@code xcit classify ARGS --json}, run in this JVM: each file's JSON object by absolute path. */
    static Map<String, JsonObject> cli(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        List<String> all = new ArrayList<>(List.of("classify", "--json", "--quiet"));
        all.addAll(List.of(args));
        int code = Main.run(all.toArray(String[]::new), new PrintWriter(out, true), new PrintWriter(err, true));
        if (code != 0 && code != 1) throw new AssertionError("xcit classify exited " + code + ": " + err);
        Map<String, JsonObject> byFile = new LinkedHashMap<>();
        for (String line : out.toString().lines().toList()) {
            JsonObject o = JsonParser.parseString(line).getAsJsonObject();
            byFile.put(Path.of(o.get("file").getAsString()).toAbsolutePath().toString(), o);
        }
        return byFile;
    }

    /** A binaryFile path (file:/...) as a local absolute path. */
    static String local(String uri) {
        return SparkClassify.Classify.file(uri);
    }

    /** The stage's top column as the CLI's JSON "top" array. */
    static JsonElement topAsJson(Row row, String column) {
        return SparkClassify.Classify.top(row.getList(row.fieldIndex(column)));
    }
}
