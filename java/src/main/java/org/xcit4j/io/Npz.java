package org.xcit4j.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.CheckedOutputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.xcit4j.tensor.Tensor;

/**
 * NumPy .npz archives: a zip whose members are {@code <name>.npy} files (stored, as
 * {@code np.savez} writes them, or deflated, as {@code np.savez_compressed} does). Every
 * member must be a float32 array; see {@link Npy}.
 */
public final class Npz {
    private Npz() {}

    /**
     * Reads every member, keyed by its name without ".npy", in archive order.
     *
     * @param file a .npz file
     * @param arena owns the tensors
     * @return the arrays by name, read-only
     * @throws CheckpointException naming the file and the first problem found
     */
    public static Map<String, Tensor> read(Path file, Arena arena) throws CheckpointException {
        try (ZipFile zip = Zips.open(file)) {
            Map<String, Tensor> out = new LinkedHashMap<>();
            Zips.Budget budget = new Zips.Budget(file);
            Enumeration<? extends ZipEntry> entries = zip.entries();
            while (entries.hasMoreElements()) {
                ZipEntry e = entries.nextElement();
                String name = e.getName();
                if (e.isDirectory() || !name.endsWith(".npy")) {
                    throw new CheckpointException(file, "member '" + name + "' is not a .npy array");
                }
                String key = name.substring(0, name.length() - ".npy".length());
                if (out.containsKey(key)) throw new CheckpointException(file, "member '" + name + "' appears twice");
                long size = budget.take(e);
                try (InputStream in = zip.getInputStream(e)) {
                    out.put(key, Npy.read(in, size, file, name, arena));
                }
            }
            return Collections.unmodifiableMap(out);
        } catch (IOException e) {
            throw CheckpointException.wrap(file, e);
        }
    }

    /**
     * Writes {@code arrays} as stored (uncompressed) {@code <name>.npy} members, like {@code np.savez}.
     *
     * @param file the file written
     * @param arrays the arrays by name
     * @throws IOException if the file cannot be written
     */
    public static void write(Path file, Map<String, Tensor> arrays) throws IOException {
        try (ZipOutputStream zip = new ZipOutputStream(new BufferedOutputStream(Files.newOutputStream(file), 1 << 16))) {
            for (Map.Entry<String, Tensor> a : arrays.entrySet()) {
                Tensor t = a.getValue();
                // A stored member needs its size and CRC before its data, so encode once to count.
                CRC32 crc = new CRC32();
                try (OutputStream sink = new CheckedOutputStream(OutputStream.nullOutputStream(), crc)) {
                    Npy.write(sink, t);
                }
                ZipEntry e = new ZipEntry(a.getKey() + ".npy");
                long size = Npy.header(t.shape()).length + t.numel() * Float.BYTES;
                e.setMethod(ZipEntry.STORED);
                e.setSize(size);
                e.setCompressedSize(size);
                e.setCrc(crc.getValue());
                zip.putNextEntry(e);
                Npy.write(zip, t);
                zip.closeEntry();
            }
        }
    }
}
