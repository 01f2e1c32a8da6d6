package org.xcit4j.hostile;

import static org.xcit4j.io.IoTestSupport.concat;
import static org.xcit4j.io.IoTestSupport.le64;
import static org.xcit4j.io.IoTestSupport.safetensors;
import static org.xcit4j.io.IoTestSupport.write;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.xcit4j.TestData;
import org.xcit4j.io.CheckpointException;
import org.xcit4j.io.Pickle;
import org.xcit4j.io.UnsafePickleException;

/**
 * Hostile weight files: safetensors and torch.save archives that lie about sizes, nest
 * without end, expand a few bytes into gigabytes or make the loader walk exponentially many
 * paths, each with the refusal it must get. Most are variations of the bundled demo model
 * (1.4 MB, C 64, depth 4), so that everything except the hostile part is a real checkpoint.
 */
final class HostileCheckpoints {
    private static final Case.Reader CKPT = Case.Reader.CHECKPOINT;

    private HostileCheckpoints() {
    }

    static List<Case> safetensorsFiles(Path dir) throws IOException {
        List<Case> c = new ArrayList<>();
        Path demo = TestData.root().resolve("models/xcit_fashion_micro.safetensors");
        c.add(Case.of("header length beyond the file", CKPT, write(dir.resolve("lie.safetensors"),
                concat(le64(1L << 40), "{}".getBytes(StandardCharsets.UTF_8))), CheckpointException.class, "exceeds the file size"));
        c.add(Case.of("header length negative as a signed 64-bit number", CKPT, write(dir.resolve("neg.safetensors"),
                concat(le64(-16), new byte[64])), CheckpointException.class, "exceeds the file size"));
        byte[] whole = Files.readAllBytes(demo);
        c.add(Case.of("truncated to half", CKPT, write(dir.resolve("half.safetensors"), Arrays.copyOf(whole, whole.length / 2)),
                CheckpointException.class, "data buffer (file truncated?)"));
        c.add(Case.of("shape whose element count overflows", CKPT, write(dir.resolve("overflow.safetensors"), safetensors(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,4]}}", new byte[4])),
                CheckpointException.class, "overflows"));
        c.add(Case.of("huge shape over a tiny payload", CKPT, write(dir.resolve("huge.safetensors"), safetensors(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[65536,65536],\"data_offsets\":[0,4]}}", new byte[4])),
                CheckpointException.class, "needs 17179869184"));
        c.add(Case.of("overlapping payloads", CKPT, write(dir.resolve("overlap.safetensors"), safetensors(
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", new byte[24])),
                CheckpointException.class, "overlap"));
        String deep = "[".repeat(200_000) + "]".repeat(200_000);
        c.add(Case.of("header nested 200,000 deep", CKPT, write(dir.resolve("deep.safetensors"), safetensors(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"extra\":" + deep + ",\"data_offsets\":[0,4]}}", new byte[4])),
                CheckpointException.class, "malformed safetensors header"));
        c.add(Case.of("one zero-size key claiming depth 10,000", CKPT,
                withTensor(demo, dir.resolve("depth10k.safetensors"), "blocks.9999.attn.temperature", 0),
                IllegalArgumentException.class, "blocks.9999.attn.temperature"));
        c.add(Case.of("one zero-size key claiming depth 1,000,000", CKPT,
                withTensor(demo, dir.resolve("depth1m.safetensors"), "blocks.999999.attn.temperature", 0),
                IllegalArgumentException.class, "blocks.999999.attn.temperature"));
        c.add(Case.of("zero-size keys for 5,000 class-attention blocks", CKPT,
                withManyTensors(demo, dir.resolve("cls5k.safetensors"), "cls_attn_blocks.%d.gamma1", 5000),
                IllegalArgumentException.class, "cls_attn_blocks.4999.gamma1"));
        c.add(Case.of("embed dim 0", CKPT, withTensor(demo, dir.resolve("c0.safetensors"), "pos_embed.token_projection.weight", 0, 64, 1, 1),
                IllegalArgumentException.class, "pos_embed.token_projection.weight", "(0, 64, 1, 1)"));
        return c;
    }

    static List<Case> torchFiles(Path dir) throws IOException {
        List<Case> c = new ArrayList<>();
        c.add(Case.of("661-byte memo fan-out tuple 4^24 used as a dict key", CKPT, torchZip(dir.resolve("fanout.pth"),
                Pickle.fanOutKeys(24, 1).bytes(), List.of()), CheckpointException.class, "dict key"));
        c.add(Case.of("two equal fan-out trees as dict keys (deep equality)", CKPT, torchZip(dir.resolve("fanout2.pth"),
                Pickle.fanOutKeys(24, 2).bytes(), List.of()), CheckpointException.class, "dict key"));
        // 100 MiB of zeros deflate to ~100 KB (the file); four float tensors each view all of it.
        c.add(Case.of("deflated 100 MiB ByteStorage viewed by four float tensors", CKPT, byteStorageViews(dir.resolve("views.pth"),
                100L << 20), CheckpointException.class, "data/0"));
        // 64 MiB: within what any archive may decompress to, so the views themselves are refused.
        c.add(Case.of("64 MiB ByteStorage viewed by four float tensors (1 GiB)", CKPT, byteStorageViews(dir.resolve("views64.pth"),
                64L << 20), CheckpointException.class, "'data/0': 67108864 bytes viewed as 1073741824 bytes of float32 by 4 tensors"));
        long floats = 256L << 20; // 1 GiB of zeros, ~1 MB deflated
        c.add(Case.of("deflate bomb: 1 GiB of float zeros in about 1 MB", CKPT, torchZip(dir.resolve("bomb.pth"),
                Pickle.proto(2).op('}').str("w").tensor("FloatStorage", "0", floats, 0, new long[] {floats}, new long[] {1})
                        .setitem().stop().bytes(), List.of(new Zeros("0", floats * 4, true))),
                CheckpointException.class, "data/0"));
        c.add(Case.of("storage entry claiming more than deflate can produce", CKPT, claimedSize(dir.resolve("claims.pth")),
                CheckpointException.class, "more than deflate can produce"));
        Pickle deepList = Pickle.proto(2);
        for (int i = 0; i < 500_000; i++) deepList.op('(');
        deepList.op(']');
        for (int i = 0; i < 500_000; i++) deepList.op('l');
        c.add(Case.of("a list nested 500,000 deep", CKPT, torchZip(dir.resolve("deeplist.pth"), deepList.stop().bytes(), List.of()),
                CheckpointException.class, "holds a list, not a dict"));
        Pickle deepKey = Pickle.proto(2).op('}').str("x");
        for (int i = 0; i < 100_000; i++) deepKey.op(0x85);
        c.add(Case.of("a dict key nested 100,000 deep", CKPT, torchZip(dir.resolve("deepkey.pth"),
                deepKey.str("v").setitem().stop().bytes(), List.of()), CheckpointException.class, "dict key"));
        c.add(Case.of("string length beyond the pickle", CKPT, torchZip(dir.resolve("strlen.pth"),
                concat(Pickle.proto(2).op(0x8d).bytes(), le64(1L << 40)), List.of()), CheckpointException.class, "pickle truncated"));
        c.add(Case.of("os.system", CKPT, torchZip(dir.resolve("evil.pth"), Pickle.proto(2).global("os", "system").str("true")
                .op(0x85).reduce().stop().bytes(), List.of()), UnsafePickleException.class, "os.system"));
        c.add(Case.of("tensor size overflowing 64 bits", CKPT, torchZip(dir.resolve("size.pth"), Pickle.proto(2).op('}').str("w")
                .tensor("FloatStorage", "0", 1, 0, new long[] {1L << 40, 1L << 40}, new long[] {1L << 40, 1}).setitem().stop().bytes(),
                List.of(new Zeros("0", 4, false))), CheckpointException.class, "overflows"));
        c.add(Case.of("legacy (non-zip) torch file", CKPT, write(dir.resolve("legacy.pth"), Pickle.proto(2)
                .op(0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19).stop().bytes()),
                CheckpointException.class, "legacy (torch < 1.6, non-zip)"));
        byte[] zip = Files.readAllBytes(torchZip(dir.resolve("whole.pth"), Pickle.proto(2).op('}').stop().bytes(), List.of()));
        c.add(Case.of("torch archive truncated", CKPT, write(dir.resolve("cut.pth"), Arrays.copyOf(zip, zip.length / 2)),
                CheckpointException.class, "not a valid zip archive"));
        return c;
    }

    private static Path byteStorageViews(Path file, long n) throws IOException {
        Pickle views = Pickle.proto(2).op('}');
        for (String k : List.of("a", "b", "c", "d")) views.str(k).tensor("ByteStorage", "0", n, 0, new long[] {n}, new long[] {1}).setitem();
        return torchZip(file, views.stop().bytes(), List.of(new Zeros("0", n, true)));
    }

    /** A storage entry of zero bytes, deflated or stored. */
    private record Zeros(String key, long bytes, boolean deflate) {
    }

    private static Path torchZip(Path file, byte[] pickle, List<Zeros> storages) throws IOException {
        try (OutputStream f = Files.newOutputStream(file); ZipOutputStream z = new ZipOutputStream(f)) {
            z.putNextEntry(new ZipEntry("archive/data.pkl"));
            z.write(pickle);
            z.putNextEntry(new ZipEntry("archive/byteorder"));
            z.write("little".getBytes(StandardCharsets.US_ASCII));
            byte[] chunk = new byte[1 << 20];
            for (Zeros s : storages) {
                ZipEntry e = new ZipEntry("archive/data/" + s.key());
                if (!s.deflate()) {
                    e.setMethod(ZipEntry.STORED);
                    e.setSize(s.bytes());
                    e.setCompressedSize(s.bytes());
                    CRC32 crc = new CRC32();
                    for (long done = 0; done < s.bytes(); done += chunk.length) crc.update(chunk, 0, (int) Math.min(chunk.length, s.bytes() - done));
                    e.setCrc(crc.getValue());
                }
                z.putNextEntry(e);
                for (long done = 0; done < s.bytes(); done += chunk.length) z.write(chunk, 0, (int) Math.min(chunk.length, s.bytes() - done));
            }
            z.putNextEntry(new ZipEntry("archive/version"));
            z.write("3\n".getBytes(StandardCharsets.US_ASCII));
        }
        return file;
    }

    /** A storage whose central-directory size is patched to 1 TiB (the local data is 4 bytes). */
    private static Path claimedSize(Path file) throws IOException {
        long claimed = 0xfffffffeL;
        Pickle p = Pickle.proto(2).op('}').str("w").tensor("ByteStorage", "0", claimed, 0, new long[] {claimed}, new long[] {1}).setitem();
        byte[] zip = Files.readAllBytes(torchZip(file, p.stop().bytes(), List.of(new Zeros("0", 4, true))));
        String name = "archive/data/0";
        byte[] sig = {0x50, 0x4b, 0x01, 0x02};
        for (int i = 0; i + 46 < zip.length; i++) {
            if (Arrays.equals(zip, i, i + 4, sig, 0, 4) && new String(zip, i + 46, name.length(), StandardCharsets.UTF_8).equals(name)) {
                // ZIP64 is not used, so the 32-bit size field says 0xffffffff: "unknown, see extra" is refused as no size;
                // 0xfffffffe = 4 GiB - 2 is what a lying writer can claim.
                ByteBuffer.wrap(zip, i + 24, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(0xfffffffe);
            }
        }
        return write(file, zip);
    }

    /** The demo model with one more F32 tensor of {@code shape} (all zeros), or with that tensor's shape replaced. */
    static Path withTensor(Path demo, Path out, String key, long... shape) throws IOException {
        return rewrite(demo, out, header -> put(header, key, shape));
    }

    /** The demo model plus a zero-size F32 tensor for every index {@code 0..count-1} of {@code pattern}. */
    private static Path withManyTensors(Path demo, Path out, String pattern, int count) throws IOException {
        return rewrite(demo, out, header -> {
            for (int i = 0; i < count; i++) if (!header.has(String.format(pattern, i))) put(header, String.format(pattern, i), 0);
        });
    }

    private static void put(JsonObject header, String key, long... shape) {
        JsonObject t = new JsonObject();
        t.addProperty("dtype", "F32");
        JsonArray s = new JsonArray();
        for (long d : shape) s.add(d);
        t.add("shape", s);
        long numel = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        JsonObject old = header.getAsJsonObject(key);
        long begin = old != null ? old.getAsJsonArray("data_offsets").get(0).getAsLong() : 0;
        JsonArray offsets = new JsonArray();
        offsets.add(begin);
        offsets.add(begin + numel * 4);
        t.add("data_offsets", offsets);
        header.add(key, t);
    }

    private static Path rewrite(Path demo, Path out, java.util.function.Consumer<JsonObject> edit) throws IOException {
        byte[] b = Files.readAllBytes(demo);
        int n = (int) ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonObject header = JsonParser.parseString(new String(b, 8, n, StandardCharsets.UTF_8)).getAsJsonObject();
        edit.accept(header);
        StringBuilder json = new StringBuilder(header.toString());
        while (json.length() % 8 != 0) json.append(' ');
        return write(out, safetensors(json.toString(), Arrays.copyOfRange(b, 8 + n, b.length)));
    }
}
