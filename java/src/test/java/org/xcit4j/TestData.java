package org.xcit4j;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** Locates the repository's committed test data (golden files from timm). */
public final class TestData {
    private TestData() {
    }

    /** The repository root: system property xcit.repo.root (set by Surefire), else the nearest parent with testdata/. */
    public static Path root() {
        String prop = System.getProperty("xcit.repo.root");
        if (prop != null) return Path.of(prop).toAbsolutePath().normalize();
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("testdata"))) return p;
        }
        throw new IllegalStateException("cannot find the repository root (no testdata/ above " + Path.of("").toAbsolutePath() + ")");
    }

    public static Path golden(String name) {
        Path dir = root().resolve("testdata/golden").resolve(name);
        if (!Files.isDirectory(dir)) throw new IllegalStateException("golden case missing: " + dir);
        return dir;
    }

    /** A dense-output golden (tools/golden/make_dense_goldens.py): testdata/dense/NAME. */
    public static Path dense(String name) {
        Path p = root().resolve("testdata/dense").resolve(name);
        if (!Files.exists(p)) throw new IllegalStateException("dense golden missing: " + p);
        return p;
    }

    /** Names of every golden case directory. */
    public static List<String> goldenCases() {
        try (Stream<Path> s = Files.list(root().resolve("testdata/golden"))) {
            return s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static JsonObject goldenConfig(String name) {
        try {
            return JsonParser.parseString(Files.readString(golden(name).resolve("config.json"))).getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
