package org.xcit4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.xcit4j.io.IoTestSupport.assertRefused;
import static org.xcit4j.io.IoTestSupport.concat;
import static org.xcit4j.io.IoTestSupport.le16;
import static org.xcit4j.io.IoTestSupport.le64;
import static org.xcit4j.io.IoTestSupport.leFloats;
import static org.xcit4j.io.IoTestSupport.safetensors;
import static org.xcit4j.io.IoTestSupport.write;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xcit4j.tensor.DType;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

class SafeTensorsTest {
    @TempDir
    Path dir;

    /** Awkward float32 values whose bits must survive unchanged, NaN payload included. */
    static final float[] SPECIAL = {0f, -0f, 1f, -1.5f, Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE,
        Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.intBitsToFloat(0x7fc00123), 3.1415927f, 1e-30f};

    @Test
    void writeThenReadIsBitExact() throws IOException {
        Path file = dir.resolve("w.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> in = new LinkedHashMap<>();
            in.put("blocks.0.attn.qkv.weight", Tensor.of(arena, Shape.of(3, 4), SPECIAL));
            in.put("cls_token", Tensor.of(arena, Shape.of(1, 1, 2), new float[] {0.25f, -7f}));
            in.put("scalar", Tensor.of(arena, Shape.of(), new float[] {42f}));
            in.put("empty", Tensor.allocate(arena, 0, 5));
            SafeTensors.write(file, in, Map.of("format", "pt"));

            StateDict sd = SafeTensors.read(file, arena);
            assertEquals(List.copyOf(in.keySet()), List.copyOf(sd.keys()), "keys in file order");
            assertEquals(Map.of("format", "pt"), sd.metadata());
            assertEquals(file, sd.source());
            for (String k : in.keySet()) {
                assertEquals(in.get(k).shape(), sd.get(k).shape(), k);
                assertArrayEquals(bits(in.get(k).toArray()), bits(sd.get(k).toArray()), k);
                assertEquals(DType.F32, sd.storedType(k));
            }
        }
        // Payloads start 8-aligned and are packed: 12*4 + 2*4 + 4 + 0 bytes after the header.
        long headerLen = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, headerLen % 8);
        assertEquals(8 + headerLen + 60, Files.size(file));
    }

    @Test
    void missingKeyNamesFileAndKey() throws IOException {
        Path file = dir.resolve("m.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafeTensors.write(file, Map.of("pos_embeder.token_projection.weight", Tensor.allocate(arena, 2)));
            StateDict sd = SafeTensors.read(file, arena);
            var e = assertThrows(NoSuchElementException.class, () -> sd.get("pos_embed.token_projection.weight"));
            assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
            assertTrue(e.getMessage().contains("'pos_embed.token_projection.weight'"), e.getMessage());
            assertTrue(e.getMessage().contains("similar: pos_embeder.token_projection.weight"), e.getMessage());
        }
    }

    @Test
    void decodesF16IncludingSubnormalsInfinitiesAndNan() throws IOException {
        // 1, -2, 65504 (max), 2^-24 (smallest subnormal), 1023 * 2^-24 (largest subnormal),
        // 2^-14 (smallest normal), +inf, -inf, -0, NaN
        int[] halfs = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x7C00, 0xFC00, 0x8000, 0x7E00};
        float[] expected = {1f, -2f, 65504f, 0x1p-24f, 1023 * 0x1p-24f, 0x1p-14f,
            Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f, Float.NaN};
        float[] got = readOne("{\"h\":{\"dtype\":\"F16\",\"shape\":[2,5],\"data_offsets\":[0,20]}}", le16(halfs), "h", DType.F16);
        for (int i = 0; i < expected.length; i++) {
            if (Float.isNaN(expected[i])) assertTrue(Float.isNaN(got[i]), "index " + i);
            else assertEquals(Float.floatToIntBits(expected[i]), Float.floatToIntBits(got[i]), "index " + i);
        }
    }

    @Test
    void decodesBf16AsTheUpperHalfOfFloat32() throws IOException {
        // 1, -3, 3.140625, +inf, smallest subnormal (2^-133), largest finite, -0
        int[] b = {0x3F80, 0xC040, 0x4049, 0x7F80, 0x0001, 0x7F7F, 0x8000};
        float[] expected = {1f, -3f, 3.140625f, Float.POSITIVE_INFINITY, 0x1p-133f, Float.intBitsToFloat(0x7F7F0000), -0f};
        float[] got = readOne("{\"b\":{\"dtype\":\"BF16\",\"shape\":[7],\"data_offsets\":[0,14]}}", le16(b), "b", DType.BF16);
        assertArrayEquals(bits(expected), bits(got));
    }

    @Test
    void decodesIntegerAndDoubleTypesToFloat() throws IOException {
        ByteBuffer d = ByteBuffer.allocate(16 + 8 + 8 + 4 + 2 + 1 + 1 + 2).order(ByteOrder.LITTLE_ENDIAN);
        d.putDouble(0.1).putDouble(-2.5);         // F64 [0, 16)
        d.putLong(123456789L);                    // I64 [16, 24)
        d.putInt(-7).putInt(1 << 24);             // I32 [24, 32)
        d.putShort((short) -300).putShort((short) 0);  // I16 [32, 34) + gap
        d.put((byte) -5);                         // I8 [36, 37)
        d.put((byte) 200);                        // U8 [37, 38)
        d.put((byte) 1).put((byte) 0);            // BOOL [38, 40)
        String h = "{\"f64\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                + "\"num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[16,24]},"
                + "\"i32\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[24,32]},"
                + "\"i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[32,34]},"
                + "\"i8\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[36,37]},"
                + "\"u8\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[37,38]},"
                + "\"bool\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[38,40]}}";
        Path file = write(dir.resolve("ints.safetensors"), safetensors(h, d.array()));
        try (Arena arena = Arena.ofConfined()) {
            StateDict sd = SafeTensors.read(file, arena);
            assertArrayEquals(new float[] {0.1f, -2.5f}, sd.get("f64").toArray());
            assertArrayEquals(new float[] {123456792f}, sd.get("num_batches_tracked").toArray()); // nearest float
            assertEquals(Shape.of(), sd.get("num_batches_tracked").shape());
            assertEquals(DType.I64, sd.storedType("num_batches_tracked"));
            assertArrayEquals(new float[] {-7f, 16777216f}, sd.get("i32").toArray());
            assertArrayEquals(new float[] {-300f}, sd.get("i16").toArray());
            assertArrayEquals(new float[] {-5f}, sd.get("i8").toArray());
            assertArrayEquals(new float[] {200f}, sd.get("u8").toArray());
            assertArrayEquals(new float[] {1f, 0f}, sd.get("bool").toArray());
            assertEquals(DType.BOOL, sd.storedType("bool"));
        }
    }

    // ---- malformed files: each names the file and the problem ----

    private Path valid() throws IOException {
        Path file = dir.resolve("good.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafeTensors.write(file, Map.of("w", Tensor.of(arena, Shape.of(4), new float[] {1, 2, 3, 4})));
        }
        return file;
    }

    @Test
    void truncatedInsideTheHeader() throws IOException {
        byte[] all = Files.readAllBytes(valid());
        Path cut = write(dir.resolve("cut_header.safetensors"), Arrays.copyOf(all, 20));
        refused(cut, "header length", "exceeds the file size (20 bytes)");
    }

    @Test
    void truncatedInsideTheData() throws IOException {
        byte[] all = Files.readAllBytes(valid());
        Path cut = write(dir.resolve("cut_data.safetensors"), Arrays.copyOf(all, all.length - 3));
        refused(cut, "tensor 'w'", "outside the 13-byte data buffer");
    }

    @Test
    void headerLengthLargerThanTheFile() throws IOException {
        Path f = write(dir.resolve("long.safetensors"), concat(le64(1_000_000), "{}".getBytes()));
        refused(f, "header length 1000000 exceeds the file size (10 bytes)");
        Path neg = write(dir.resolve("neg.safetensors"), concat(le64(-1), "{}".getBytes()));
        refused(neg, "exceeds the file size");
        Path tiny = write(dir.resolve("tiny.safetensors"), new byte[] {1, 2, 3});
        refused(tiny, "too short");
    }

    @Test
    void offsetsOutsideTheBuffer() throws IOException {
        Path f = write(dir.resolve("out.safetensors"),
                safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", leFloats(1, 2, 3)));
        refused(f, "tensor 'w'", "[8, 16]", "outside the 12-byte data buffer");
        Path back = write(dir.resolve("back.safetensors"),
                safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", leFloats(1, 2, 3)));
        refused(back, "tensor 'w'", "end before begin");
    }

    @Test
    void overlappingTensors() throws IOException {
        String h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        Path f = write(dir.resolve("overlap.safetensors"), safetensors(h, leFloats(1, 2, 3)));
        refused(f, "'a' [0, 8)", "'b' [4, 12)", "overlap");
    }

    @Test
    void shapeDisagreesWithOffsets() throws IOException {
        Path f = write(dir.resolve("shape.safetensors"),
                safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", leFloats(1, 2)));
        refused(f, "tensor 'w'", "span 8 bytes", "needs 12");
        Path big = write(dir.resolve("overflow.safetensors"), safetensors(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", leFloats(1, 2)));
        refused(big, "tensor 'w'", "overflows");
        Path neg = write(dir.resolve("negdim.safetensors"),
                safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", leFloats(1, 2)));
        refused(neg, "tensor 'w'", "non-negative integers, found -2");
    }

    @Test
    void unknownDtype() throws IOException {
        Path f = write(dir.resolve("dtype.safetensors"),
                safetensors("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[2]));
        refused(f, "tensor 'w'", "dtype 'F8_E4M3' is not supported");
    }

    @Test
    void badJson() throws IOException {
        Path f = write(dir.resolve("json.safetensors"), safetensors("{\"w\":{\"dtype\":\"F32\",", new byte[0]));
        refused(f, "malformed safetensors header JSON");
        Path lenient = write(dir.resolve("lenient.safetensors"), safetensors("{'w': {}}", new byte[0]));
        refused(lenient, "malformed safetensors header JSON");
        Path array = write(dir.resolve("array.safetensors"), safetensors("[1, 2]", new byte[0]));
        refused(array, "expected an object", "found an array");
        Path trailing = write(dir.resolve("trailing.safetensors"), safetensors("{} {}", new byte[0]));
        refused(trailing, "malformed safetensors header JSON");
        Path utf = write(dir.resolve("utf.safetensors"), concat(le64(3), new byte[] {'{', (byte) 0xff, '}'}));
        refused(utf, "not valid UTF-8");
    }

    @Test
    void duplicateKeysAndMissingFields() throws IOException {
        String h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        Path f = write(dir.resolve("dup.safetensors"), safetensors(h, leFloats(1, 2)));
        refused(f, "duplicate tensor 'w'");
        Path m = write(dir.resolve("missing.safetensors"),
                safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", leFloats(1)));
        refused(m, "tensor 'w'", "missing field 'data_offsets'");
    }

    @Test
    void namesFromTheFileCannotBreakTheMessageLine() throws IOException {
        String h = "{\"a\\nb\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}";
        Path f = write(dir.resolve("nl.safetensors"), safetensors(h, leFloats(1, 2)));
        refused(f, "tensor 'a\\nb'", "span 8 bytes");
    }

    @Test
    void headerWithoutTensorsReadsAsEmpty() throws IOException {
        Path f = write(dir.resolve("none.safetensors"), safetensors("{\"__metadata__\":{\"k\":\"v\"}}", new byte[0]));
        try (Arena arena = Arena.ofConfined()) {
            StateDict sd = SafeTensors.read(f, arena);
            assertEquals(0, sd.size());
            assertEquals(Map.of("k", "v"), sd.metadata());
        }
    }

    @Test
    void missingFileIsOneLine() {
        Path f = dir.resolve("nope.safetensors");
        refused(f, "no such file");
    }

    private static void refused(Path file, String... fragments) {
        try (Arena arena = Arena.ofConfined()) {
            assertRefused(file, () -> SafeTensors.read(file, arena), fragments);
        }
    }

    private float[] readOne(String header, byte[] data, String key, DType type) throws IOException {
        Path file = write(dir.resolve(key + ".safetensors"), safetensors(header, data));
        try (Arena arena = Arena.ofConfined()) {
            StateDict sd = SafeTensors.read(file, arena);
            assertEquals(type, sd.storedType(key));
            return sd.get(key).toArray();
        }
    }

    static int[] bits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) b[i] = Float.floatToRawIntBits(v[i]);
        return b;
    }
}
