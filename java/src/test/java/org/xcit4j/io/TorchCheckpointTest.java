package org.xcit4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.xcit4j.io.IoTestSupport.assertRefused;
import static org.xcit4j.io.IoTestSupport.leFloats;
import static org.xcit4j.io.IoTestSupport.resource;
import static org.xcit4j.io.IoTestSupport.write;
import static org.xcit4j.io.IoTestSupport.zip;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xcit4j.tensor.DType;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

class TorchCheckpointTest {
    @TempDir
    Path dir;

    /** real_torch.pth was written by torch.save (see make_torch_fixtures.py) under {'model': sd, 'args': Namespace, ...}. */
    @Test
    void readsARealTorchSaveCheckpoint() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            StateDict sd = TorchCheckpoint.read(resource("real_torch.pth"), arena);
            assertEquals(List.of("f32", "f16", "bf16", "f64", "num_batches_tracked", "i32", "i16", "i8", "u8", "bool",
                    "view_a", "view_b", "param", "empty", "cls_token"), List.copyOf(sd.keys()));
            check(sd, "f32", DType.F32, Shape.of(2, 3), -1f, -0.5f, 0f, 0.5f, 1f, 1.5f);
            check(sd, "f16", DType.F16, Shape.of(5), 1f, -2.5f, 65504f, 0x1p-24f, Float.POSITIVE_INFINITY);
            check(sd, "bf16", DType.BF16, Shape.of(4), 1f, -3f, 0x1p100f, 0x1p-7f);
            check(sd, "f64", DType.F64, Shape.of(2), 0.5f, -2f);
            check(sd, "num_batches_tracked", DType.I64, Shape.of(), 7f);
            check(sd, "i32", DType.I32, Shape.of(2), -3f, 4f);
            check(sd, "i16", DType.I16, Shape.of(1), -300f);
            check(sd, "i8", DType.I8, Shape.of(1), -5f);
            check(sd, "u8", DType.U8, Shape.of(1), 200f);
            check(sd, "bool", DType.BOOL, Shape.of(2), 1f, 0f);
            check(sd, "view_a", DType.F32, Shape.of(4), 2f, 3f, 4f, 5f);
            check(sd, "view_b", DType.F32, Shape.of(2, 3), 6f, 7f, 8f, 9f, 10f, 11f);
            check(sd, "param", DType.F32, Shape.of(2, 2), 0.25f, 0.25f, 0.25f, 0.25f);
            check(sd, "empty", DType.F32, Shape.of(0, 3));
            check(sd, "cls_token", DType.F32, Shape.of(1, 1, 4), -0.75f, -0.75f, -0.75f, -0.75f);
            // Views of one torch storage become separate tensors: writing one leaves the other alone.
            sd.get("view_a").set(0, 99f);
            assertEquals(6f, sd.get("view_b").get(0));
        }
    }

    @Test
    void refusesNonContiguousTensors() {
        Path f = resource("noncontiguous.pth");
        refused(f, "tensor 'w' with size [3, 2] and stride [1, 3] is not contiguous row-major");
    }

    @Test
    void readsHandMadeArchivesWithAnyPrefixAndWrapping() throws IOException {
        byte[] bare = Pickle.proto(2).op('}').str("w").tensor("FloatStorage", "0", 3, 0, new long[] {3}, new long[] {1})
                .setitem().stop().bytes();
        Path a = torchZip("weights", bare, Map.of("0", leFloats(1, 2, 3)));
        try (Arena arena = Arena.ofConfined()) {
            check(TorchCheckpoint.read(a, arena), "w", DType.F32, Shape.of(3), 1f, 2f, 3f);
        }
        // {'optimizer': {...}, 'state_dict': {'w': tensor at offset 1 of a 4-element storage}}
        byte[] wrapped = Pickle.proto(2).op('}')
                .str("optimizer").op('}').str("lr").integer(3).setitem().setitem()
                .str("state_dict").op('}').str("w").tensor("HalfStorage", "7", 4, 1, new long[] {1, 2}, new long[] {9, 1})
                .setitem().setitem().stop().bytes();
        Path b = torchZip("archive", wrapped, Map.of("7", IoTestSupport.le16(0x3C00, 0x4000, 0x4200, 0x4400)));
        try (Arena arena = Arena.ofConfined()) {
            check(TorchCheckpoint.read(b, arena), "w", DType.F16, Shape.of(1, 2), 2f, 3f);
        }
    }

    @Test
    void refusesArchiveWithoutDataPkl() throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("archive/version", "3\n".getBytes());
        entries.put("archive/data/0", leFloats(1));
        Path f = zip(dir.resolve("nopkl.pth"), entries);
        refused(f, "no 'archive/data.pkl' entry: not a torch.save checkpoint");
    }

    @Test
    void refusesMissingOrMisSizedStorages() throws IOException {
        byte[] pkl = Pickle.proto(2).op('}').str("w").tensor("FloatStorage", "0", 4, 0, new long[] {4}, new long[] {1})
                .setitem().stop().bytes();
        Path missing = torchZip("archive", pkl, Map.of());
        refused(missing, "storage 'data/0' referenced by the pickle is missing from the archive");
        Path short_ = torchZip("archive", pkl, Map.of("0", leFloats(1, 2, 3)));
        refused(short_, "storage 'data/0' holds 12 bytes, but 4 x F32 needs 16");
        byte[] past = Pickle.proto(2).op('}').str("w").tensor("FloatStorage", "0", 4, 2, new long[] {3}, new long[] {1})
                .setitem().stop().bytes();
        Path outside = torchZip("archive", past, Map.of("0", leFloats(1, 2, 3, 4)));
        refused(outside, "tensor 'w' (offset 2, 3 elements) does not fit its storage 'data/0' of 4 elements");
    }

    @Test
    void refusesZipEntriesThatLieAboutTheirSize() throws IOException {
        // A 1 GiB storage promised by the pickle and by the zip directory, backed by a few bytes.
        long numel = 1L << 28;
        byte[] pkl = Pickle.proto(2).op('}').str("w").tensor("FloatStorage", "0", numel, 0, new long[] {numel}, new long[] {1})
                .setitem().stop().bytes();
        Path f = torchZip("archive", pkl, Map.of("0", leFloats(1, 2)));
        byte[] zip = Files.readAllBytes(f);
        patchCentralSize(zip, "archive/data/0", numel * 4);
        Files.write(f, zip);
        refused(f, "zip entry 'archive/data/0' claims 1073741824 bytes from", "more than deflate can produce");
    }

    /** Overwrites the uncompressed size recorded for {@code name} in the zip's central directory. */
    private static void patchCentralSize(byte[] zip, String name, long size) {
        byte[] n = name.getBytes();
        for (int i = 0; i + 46 + n.length <= zip.length; i++) {
            if (zip[i] == 'P' && zip[i + 1] == 'K' && zip[i + 2] == 1 && zip[i + 3] == 2
                    && java.util.Arrays.equals(zip, i + 46, i + 46 + n.length, n, 0, n.length)) {
                for (int b = 0; b < 4; b++) zip[i + 24 + b] = (byte) (size >>> (8 * b));
                return;
            }
        }
        throw new AssertionError("no central directory entry " + name);
    }

    @Test
    void refusesOsSystemViaGlobalBeforeAnyEffect() throws IOException {
        Path marker = dir.resolve("pwned");
        // What `pickle.loads` would run: os.system('touch <marker>').
        byte[] evil = Pickle.proto(2).global("os", "system").str("touch " + marker).op(0x85).reduce().stop().bytes();
        Path f = torchZip("archive", evil, Map.of());
        try (Arena arena = Arena.ofConfined()) {
            assertRefused(UnsafePickleException.class, f, () -> TorchCheckpoint.read(f, arena),
                    "refusing to unpickle global 'os.system' (only tensors, storages, ordered dicts and primitives are allowed)",
                    "archive/data.pkl byte 2");
        }
        assertFalse(Files.exists(marker));
    }

    @Test
    void refusesSystemViaStackGlobalBeforeAnyEffect() throws IOException {
        Path marker = dir.resolve("pwned");
        byte[] evil = Pickle.proto(4).stackGlobal("posix", "system").str("touch " + marker).op(0x85).reduce().stop().bytes();
        Path f = torchZip("archive", evil, Map.of());
        try (Arena arena = Arena.ofConfined()) {
            assertRefused(UnsafePickleException.class, f, () -> TorchCheckpoint.read(f, arena),
                    "refusing to unpickle global 'posix.system'");
        }
        assertFalse(Files.exists(marker));
    }

    @Test
    void refusesLegacyNonZipCheckpoints() throws IOException {
        Path marker = dir.resolve("pwned");
        // torch < 1.6 files start with a pickled magic number; even a hostile one is never unpickled.
        byte[] legacy = Pickle.proto(2).op(0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19).stop().bytes();
        Path f = write(dir.resolve("legacy.pth"), legacy);
        refused(f, "legacy (torch < 1.6, non-zip) checkpoint format is not supported");
        byte[] evil = Pickle.proto(2).global("os", "system").str("touch " + marker).op(0x85).reduce().stop().bytes();
        Path g = write(dir.resolve("legacy_evil.pth"), evil);
        refused(g, "legacy");
        assertFalse(Files.exists(marker));
        Path text = write(dir.resolve("text.pth"), "hello, not a checkpoint".getBytes());
        refused(text, "not a PyTorch checkpoint");
    }

    @Test
    void refusesUnknownOpcodeNamingEntryAndOffset() throws IOException {
        byte[] pkl = Pickle.proto(2).op('}').str("w").op(0x92).stop().bytes();
        Path f = torchZip("ckpt", pkl, Map.of());
        refused(f, "unsupported pickle opcode 0x92 (NEWOBJ_EX) [ckpt/data.pkl byte 6]");
    }

    @Test
    void refusesOtherStructuralProblems() throws IOException {
        byte[] str = Pickle.proto(2).op('}').str("model").op('}').str("w").str("not a tensor").setitem().setitem()
                .stop().bytes();
        refused(torchZip("archive", str, Map.of()), "state dict entry 'w' is a str, not a tensor");
        byte[] mixed = Pickle.proto(2).op('}').str("w").tensor("FloatStorage", "0", 1, 0, new long[] {1}, new long[] {1})
                .setitem().str("step").op('G', 0x3f, 0xf0, 0, 0, 0, 0, 0, 0).setitem().stop().bytes();
        refused(torchZip("archive", mixed, Map.of("0", leFloats(1))), "state dict entry 'step' is a float, not a tensor");
        byte[] noSd = Pickle.proto(2).op('}').str("epoch").integer(3).setitem().stop().bytes();
        refused(torchZip("archive", noSd, Map.of()), "no state dict found", "top-level keys: epoch");
        byte[] list = Pickle.proto(2).op(']').stop().bytes();
        refused(torchZip("archive", list, Map.of()), "the checkpoint holds a list, not a dict");

        // 100k entries viewing one 4096-element storage: a few MB of pickle, 1.6 GB if honoured.
        Pickle many = Pickle.proto(2).op('}').str("k0").tensor("FloatStorage", "0", 4096, 0, new long[] {4096}, new long[] {1})
                .op('q', 1).setitem();
        for (int i = 1; i < 100_000; i++) many.str("k" + i).op('h', 1).setitem();
        refused(torchZip("archive", many.stop().bytes(), Map.of("0", new byte[4 * 4096])),
                "'data/0': 16384 bytes viewed as 1638400000 bytes of float32 by 100000 tensors");

        Map<String, byte[]> big = new LinkedHashMap<>();
        big.put("archive/data.pkl", Pickle.proto(2).op('}').stop().bytes());
        big.put("archive/byteorder", "big".getBytes());
        refused(zip(dir.resolve("big.pth"), big), "byte order 'big' is not supported");
    }

    private Path torchZip(String prefix, byte[] pickle, Map<String, byte[]> storages) throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put(prefix + "/data.pkl", pickle);
        entries.put(prefix + "/byteorder", "little".getBytes());
        storages.forEach((k, v) -> entries.put(prefix + "/data/" + k, v));
        entries.put(prefix + "/version", "3\n".getBytes());
        return zip(Files.createTempFile(dir, "ckpt", ".pth"), entries);
    }

    private static void check(StateDict sd, String key, DType stored, Shape shape, float... values) {
        Tensor t = sd.get(key);
        assertEquals(shape, t.shape(), key);
        assertEquals(stored, sd.storedType(key), key);
        assertArrayEquals(values, t.toArray(), key);
    }

    private static void refused(Path file, String... fragments) {
        try (Arena arena = Arena.ofConfined()) {
            assertRefused(file, () -> TorchCheckpoint.read(file, arena), fragments);
        }
    }
}
