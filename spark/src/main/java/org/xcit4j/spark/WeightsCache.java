package org.xcit4j.spark;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

/**
 * Local copies of checkpoints that live on another file system (HDFS, S3, ...): each copied
 * once per machine into {@code java.io.tmpdir/xcit4j-weights}, under a name keyed by URI,
 * length and modification time, so a replaced checkpoint is copied again and never mixed up.
 * The model maps its local file (safetensors are read in place), so a copy is needed. Local
 * files ({@code file:} URIs) are used where they are.
 */
final class WeightsCache {
    private static final Object LOCK = new Object();

    private WeightsCache() {
    }

    /** The directory copies go to. */
    static Path directory() {
        return Path.of(System.getProperty("java.io.tmpdir"), "xcit4j-weights");
    }

    /** A local file with the checkpoint's bytes. */
    static Path local(ModelSpec spec, Configuration conf) throws IOException {
        URI uri = URI.create(spec.weights());
        if ("file".equals(uri.getScheme())) return Path.of(uri);
        String base = new org.apache.hadoop.fs.Path(uri).getName();
        Path target = directory().resolve(key(spec) + "-" + base);
        synchronized (LOCK) {
            if (Files.isRegularFile(target) && Files.size(target) == spec.length()) return target;
            Files.createDirectories(directory());
            // Copied beside the target, then renamed: another executor on this machine never sees half a file.
            Path part = Files.createTempFile(directory(), target.getFileName().toString(), ".part");
            try {
                org.apache.hadoop.fs.Path source = new org.apache.hadoop.fs.Path(uri);
                FileSystem fs = source.getFileSystem(conf);
                try (InputStream in = fs.open(source)) {
                    Files.copy(in, part, StandardCopyOption.REPLACE_EXISTING);
                }
                if (Files.size(part) != spec.length()) {
                    throw new IOException(spec.weights() + ": " + Files.size(part) + " bytes read, " + spec.length()
                            + " expected: the checkpoint changed after the job started");
                }
                Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(part);
            }
            return target;
        }
    }

    private static String key(ModelSpec spec) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest((spec.weights() + "\n" + spec.length() + "\n" + spec.modified())
                    .getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
