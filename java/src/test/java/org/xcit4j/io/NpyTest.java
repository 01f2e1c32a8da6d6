package org.xcit4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.xcit4j.io.IoTestSupport.assertRefused;
import static org.xcit4j.io.IoTestSupport.leFloats;
import static org.xcit4j.io.IoTestSupport.npy;
import static org.xcit4j.io.IoTestSupport.resource;
import static org.xcit4j.io.IoTestSupport.write;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

class NpyTest {
    /** The values make_numpy_fixtures.py writes: arange(6) * 0.25 - 0.5, shape (2, 3). */
    static final float[] FIXTURE = {-0.5f, -0.25f, 0f, 0.25f, 0.5f, 0.75f};

    @TempDir
    Path dir;

    @Test
    void roundTripIsBitExactForAllRanks() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            for (Shape shape : new Shape[] {Shape.of(3, 4), Shape.of(12), Shape.of(1, 2, 2, 3), Shape.of(), Shape.of(0, 4)}) {
                float[] values = Arrays.copyOf(SafeTensorsTest.SPECIAL, (int) shape.numel());
                Path file = dir.resolve("a" + shape.rank() + "_" + shape.numel() + ".npy");
                Npy.write(file, Tensor.of(arena, shape, values));
                assertEquals(shape, Npy.readShape(file));
                Tensor back = Npy.read(file, arena);
                assertEquals(shape, back.shape());
                assertArrayEquals(SafeTensorsTest.bits(values), SafeTensorsTest.bits(back.toArray()), shape.toString());
            }
        }
    }

    @Test
    void writesExactlyWhatNumpySaveWrites() throws IOException {
        Path file = dir.resolve("mine.npy");
        try (Arena arena = Arena.ofConfined()) {
            Npy.write(file, Tensor.of(arena, Shape.of(2, 3), FIXTURE));
        }
        assertArrayEquals(Files.readAllBytes(resource("numpy_v1.npy")), Files.readAllBytes(file));
    }

    @ParameterizedTest
    @ValueSource(strings = {"numpy_v1.npy", "numpy_v2.npy", "numpy_v3.npy"})
    void readsNumpyFormatVersions(String name) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Npy.read(resource(name), arena);
            assertEquals(Shape.of(2, 3), t.shape());
            assertArrayEquals(FIXTURE, t.toArray());
        }
    }

    @Test
    void readsNumpyScalar() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Npy.read(resource("numpy_scalar.npy"), arena);
            assertEquals(Shape.of(), t.shape());
            assertArrayEquals(new float[] {2.5f}, t.toArray());
        }
    }

    @Test
    void refusesFloat64() {
        Path f = resource("numpy_f8.npy");
        refused(f, "dtype '<f8' is not supported, expected float32 ('<f4')");
    }

    @Test
    void refusesFortranOrder() {
        Path f = resource("numpy_fortran.npy");
        refused(f, "fortran_order=True is not supported");
    }

    @Test
    void refusesBigEndianAndStructuredDtypes() throws IOException {
        Path be = write(dir.resolve("be.npy"), npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", new byte[4]));
        refused(be, "dtype '>f4' is not supported, expected float32 ('<f4')");
        Path rec = write(dir.resolve("rec.npy"),
                npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new byte[4]));
        refused(rec, "dtype [('a', '<f4')] is not supported");
    }

    @Test
    void refusesHeaderShapeThatDisagreesWithTheData() throws IOException {
        // Rank 3 in the header, six floats of data.
        Path rank = write(dir.resolve("rank.npy"),
                npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", leFloats(FIXTURE)));
        refused(rank, "truncated", "shape (2, 3, 4) of float32 needs 96");
        Path extra = write(dir.resolve("extra.npy"),
                npy("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", leFloats(FIXTURE)));
        refused(extra, "24 bytes", "shape (5,) of float32 needs 20", "does not match");
        Path notTuple = write(dir.resolve("nottuple.npy"),
                npy("{'descr': '<f4', 'fortran_order': False, 'shape': 6, }", leFloats(FIXTURE)));
        refused(notTuple, "'shape' must be a tuple", "got 6");
        Path paren = write(dir.resolve("paren.npy"),
                npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", leFloats(FIXTURE)));
        refused(paren, "'shape' must be a tuple");
    }

    @Test
    void refusesTruncatedData() throws IOException {
        byte[] all = Files.readAllBytes(resource("numpy_v1.npy"));
        Path cut = write(dir.resolve("cut.npy"), Arrays.copyOf(all, all.length - 5));
        refused(cut, "array data truncated: 19 bytes present", "needs 24");
        Path cutHeader = write(dir.resolve("cuthdr.npy"), Arrays.copyOf(all, 40));
        refused(cutHeader, ".npy header truncated");
    }

    @Test
    void refusesMalformedHeaders() throws IOException {
        Path keys = write(dir.resolve("keys.npy"), npy("{'descr': '<f4', 'shape': (1,), }", new byte[4]));
        refused(keys, "exactly the keys");
        Path syntax = write(dir.resolve("syntax.npy"), npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,", new byte[4]));
        refused(syntax, "malformed .npy header");
        Path code = write(dir.resolve("code.npy"), npy("__import__('os').system('touch x')", new byte[4]));
        refused(code, "malformed .npy header", "unexpected character '_'");
        Path magic = write(dir.resolve("magic.npy"), "not numpy at all".getBytes());
        refused(magic, "not a .npy file");
    }

    private static void refused(Path file, String... fragments) {
        try (Arena arena = Arena.ofConfined()) {
            assertRefused(file, () -> Npy.read(file, arena), fragments);
        }
    }
}
