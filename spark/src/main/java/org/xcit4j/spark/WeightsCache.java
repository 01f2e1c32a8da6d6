package org.xcit4j.spark;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

/**
 * Local copies of checkpoints that live on another file system (HDFS, S3, ...): each copied
 * once per machine and user into {@code java.io.tmpdir/xcit4j-weights-<user>}, under a name
 * keyed by URI, length and modification time, so a replaced checkpoint is copied again and
 * never mixed up. The model maps its local file (safetensors are read in place), so a copy
 * is needed. Local files ({@code file:} URIs) are used where they are.
 *
 * <p>Another user of the machine must not be able to put weights there: the directory is used
 * only if it is a real directory (no symlink) that this user owns and nobody else may write,
 * and a cached file only if this user owns it; otherwise copies go to a fresh private
 * directory for this JVM (the same rule as the native library cache).
 */
final class WeightsCache {
    private static final Object LOCK = new Object();

    private WeightsCache() {
    }

    private static Path fallback;

    /** The directory copies go to: the shared per-user one if it is trustworthy, else this JVM's private one. */
    static Path directory() throws IOException {
        synchronized (LOCK) {
            if (fallback != null) return fallback;
            String user = System.getProperty("user.name", "user").replaceAll("[^A-Za-z0-9._-]", "_");
            Path shared = usable(Path.of(System.getProperty("java.io.tmpdir"), "xcit4j-weights-" + user));
            if (shared != null) return shared;
            fallback = Files.createTempDirectory("xcit4j-weights-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            return fallback;
        }
    }

    /** {@code dir}, made 0700 if absent, when it is this user's private directory; null when it is not. */
    static Path usable(Path dir) throws IOException {
        try {
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (FileAlreadyExistsException e) {
            // made earlier, by us or by someone else: checked below
        }
        return ownedPrivately(dir, true) ? dir : null;
    }

    /** A real file or directory (not a symlink) this user owns, that group and others cannot write. */
    private static boolean ownedPrivately(Path p, boolean directory) throws IOException {
        PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        UserPrincipal me = p.getFileSystem().getUserPrincipalLookupService()
                .lookupPrincipalByName(System.getProperty("user.name"));
        Set<PosixFilePermission> perms = a.permissions();
        return (directory ? a.isDirectory() : a.isRegularFile()) && a.owner().equals(me)
                && !perms.contains(PosixFilePermission.GROUP_WRITE) && !perms.contains(PosixFilePermission.OTHERS_WRITE);
    }

    /** A local file with the checkpoint's bytes. */
    static Path local(ModelSpec spec, Configuration conf) throws IOException {
        URI uri = URI.create(spec.weights());
        if ("file".equals(uri.getScheme())) return Path.of(uri);
        String base = new org.apache.hadoop.fs.Path(uri).getName();
        synchronized (LOCK) {
            Path dir = directory();
            Path target = dir.resolve(key(spec) + "-" + base);
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS) && ownedPrivately(target, false) && Files.size(target) == spec.length()) {
                return target;
            }
            // Copied beside the target, then renamed: another executor on this machine never sees half a file.
            Path part = Files.createTempFile(dir, target.getFileName().toString(), ".part");
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
