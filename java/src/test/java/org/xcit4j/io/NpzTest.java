package org.xcit4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.xcit4j.io.IoTestSupport.assertRefused;
import static org.xcit4j.io.IoTestSupport.resource;
import static org.xcit4j.io.IoTestSupport.zip;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

class NpzTest {
    @TempDir
    Path dir;

    @Test
    void roundTripIsBitExactAndStoredLikeNpSavez() throws IOException {
        Path file = dir.resolve("out.npz");
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> in = new LinkedHashMap<>();
            in.put("logits", Tensor.of(arena, Shape.of(3, 4), SafeTensorsTest.SPECIAL));
            in.put("features/stage0", Tensor.of(arena, Shape.of(1), new float[] {-3.5f}));
            in.put("empty", Tensor.allocate(arena, 0));
            Npz.write(file, in);
            Map<String, Tensor> back = Npz.read(file, arena);
            assertEquals(List.copyOf(in.keySet()), List.copyOf(back.keySet()));
            for (String k : in.keySet()) {
                assertEquals(in.get(k).shape(), back.get(k).shape(), k);
                assertArrayEquals(SafeTensorsTest.bits(in.get(k).toArray()), SafeTensorsTest.bits(back.get(k).toArray()), k);
            }
        }
        try (ZipFile z = new ZipFile(file.toFile())) {
            ZipEntry e = z.getEntry("logits.npy");
            assertEquals(ZipEntry.STORED, e.getMethod());
            assertEquals(128 + 48, e.getSize());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"numpy_stored.npz", "numpy_deflated.npz"})
    void readsWhatNumpyWrites(String name) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> m = Npz.read(resource(name), arena);
            assertEquals(List.of("x", "y"), List.copyOf(m.keySet()));
            assertEquals(Shape.of(2, 3), m.get("x").shape());
            assertArrayEquals(NpyTest.FIXTURE, m.get("x").toArray());
            assertArrayEquals(new float[] {7f}, m.get("y").toArray());
        }
    }

    @Test
    void namesTheBadMember() throws IOException {
        byte[] f8 = Files.readAllBytes(resource("numpy_f8.npy"));
        byte[] ok = Files.readAllBytes(resource("numpy_v1.npy"));
        Path file = zip(dir.resolve("bad.npz"), Map.of("x.npy", f8));
        refused(file, "x.npy: dtype '<f8' is not supported");
        Path other = zip(dir.resolve("other.npz"), Map.of("readme.txt", ok));
        refused(other, "member 'readme.txt' is not a .npy array");
        Path notZip = IoTestSupport.write(dir.resolve("plain.npz"), ok);
        refused(notZip, "not a valid zip archive");
    }

    private static void refused(Path file, String... fragments) {
        try (Arena arena = Arena.ofConfined()) {
            assertRefused(file, () -> Npz.read(file, arena), fragments);
        }
    }
}
