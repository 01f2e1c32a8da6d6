package org.xcit4j.io;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.function.Executable;

/** Byte-level builders for crafted files and a message assertion shared by the io tests. */
public final class IoTestSupport {
    private IoTestSupport() {}

    /** A committed fixture under src/test/resources/io. */
    public static Path resource(String name) {
        try {
            var url = IoTestSupport.class.getResource("/io/" + name);
            if (url == null) throw new AssertionError("test resource io/" + name + " is missing");
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * Runs {@code read}, expects a {@code type} whose one-line message starts with the file and
     * contains every fragment, and returns it.
     */
    public static <T extends CheckpointException> T assertRefused(Class<T> type, Path file, Executable read, String... fragments) {
        T e = assertThrows(type, read);
        String m = e.getMessage();
        assertTrue(m.startsWith(file + ": "), () -> "message should start with the file name: " + m);
        assertTrue(!m.contains("\n"), () -> "message should be one line: " + m);
        for (String f : fragments) assertTrue(m.contains(f), () -> "message should contain '" + f + "': " + m);
        return e;
    }

    public static <T extends CheckpointException> T assertRefused(Path file, Executable read, String... fragments) {
        @SuppressWarnings("unchecked")
        Class<T> type = (Class<T>) CheckpointException.class;
        return assertRefused(type, file, read, fragments);
    }

    /** A safetensors file: 8-byte little-endian header length, the header, the data. */
    public static byte[] safetensors(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return concat(le64(h.length), h, data);
    }

    public static byte[] le64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    public static byte[] le16(int... values) {
        ByteBuffer b = ByteBuffer.allocate(2 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) b.putShort((short) v);
        return b.array();
    }

    public static byte[] leFloats(float... values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) b.putFloat(v);
        return b.array();
    }

    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }

    public static Path write(Path file, byte[] bytes) throws IOException {
        Files.write(file, bytes);
        return file;
    }

    /** A zip with the given entries in order, deflated (torch stores; readers must not care). */
    public static Path zip(Path file, Map<String, byte[]> entries) throws IOException {
        try (OutputStream f = Files.newOutputStream(file); ZipOutputStream z = new ZipOutputStream(f)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                z.putNextEntry(new ZipEntry(e.getKey()));
                z.write(e.getValue());
                z.closeEntry();
            }
        }
        return file;
    }

    /** A .npy file with an arbitrary header dict (padded like numpy) and raw data. */
    public static byte[] npy(String dict, byte[] data) {
        String header = dict;
        while ((10 + header.length() + 1) % 64 != 0) header += " ";
        header += "\n";
        byte[] h = header.getBytes(StandardCharsets.ISO_8859_1);
        byte[] start = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (byte) h.length, (byte) (h.length >>> 8)};
        return concat(start, h, data);
    }
}
