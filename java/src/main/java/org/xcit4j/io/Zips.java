package org.xcit4j.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/** Zip archive checks shared by the .npz and torch readers. */
final class Zips {
    /**
     * Deflate cannot expand data more than about 1032:1; an entry claiming more is lying about
     * its size, and a reader would otherwise allocate what it claims before noticing.
     */
    private static final long MAX_DEFLATE_RATIO = 1100;

    private Zips() {}

    /** Opens a zip, turning "not a zip" into a message a user can act on. */
    static ZipFile open(Path file) throws IOException {
        try {
            return new ZipFile(file.toFile());
        } catch (ZipException e) {
            throw new CheckpointException(file, "not a valid zip archive (" + e.getMessage() + ")");
        }
    }

    /**
     * The entries a reader decompresses, checked together: a crafted zip can point many
     * directory entries at the same bytes, so each entry being plausible alone is not enough.
     * Their compressed sizes must fit in the archive, which bounds what a reader allocates to a
     * constant times the file size; a budget with an expansion limit also bounds what they
     * decompress to, for formats whose writers do not compress (a zip bomb then stands out).
     */
    static final class Budget {
        /** Decompressed bytes every archive may reach whatever its size: small files stay unaffected. */
        static final long EXPANSION_ALLOWANCE = 64L << 20;

        private final Path file;
        private final long archiveBytes;
        private final long maxExpansion;
        private long compressed;
        private long uncompressed;

        /** Entries must fit the archive; what they decompress to is bounded only per entry (deflate's own ratio). */
        Budget(Path file) throws IOException {
            this(file, Long.MAX_VALUE);
        }

        /** Also: all entries together decompress to at most {@code maxExpansion} times the archive, plus the allowance. */
        Budget(Path file, long maxExpansion) throws IOException {
            this.file = file;
            this.archiveBytes = Files.size(file);
            this.maxExpansion = maxExpansion;
        }

        /** The checked uncompressed size of {@code e}, charged to this archive's budget. */
        long take(ZipEntry e) throws CheckpointException {
            long size = checkedSize(file, e);
            compressed += e.getCompressedSize();
            if (compressed > archiveBytes) {
                throw new CheckpointException(file, "zip entries up to '" + e.getName() + "' claim " + compressed
                        + " compressed bytes in a " + archiveBytes + "-byte archive (overlapping or corrupt entries)");
            }
            uncompressed += size;
            if (maxExpansion != Long.MAX_VALUE && uncompressed > maxExpansion * archiveBytes + EXPANSION_ALLOWANCE) {
                throw new CheckpointException(file, "zip entries up to '" + e.getName() + "' decompress to " + uncompressed
                        + " bytes from a " + archiveBytes + "-byte archive, more than " + maxExpansion + " times its size"
                        + " (a zip bomb? this format's writer stores its entries uncompressed)");
            }
            return size;
        }
    }

    /** The uncompressed size the central directory records for {@code e}, once it is plausible. */
    static long checkedSize(Path file, ZipEntry e) throws CheckpointException {
        long size = e.getSize();
        long csize = e.getCompressedSize();
        if (size < 0 || csize < 0) throw new CheckpointException(file, "zip entry '" + e.getName() + "' has no recorded size");
        if (e.getMethod() == ZipEntry.STORED && size != csize) {
            throw new CheckpointException(file, "stored zip entry '" + e.getName() + "' records " + size
                    + " bytes but occupies " + csize);
        }
        if (e.getMethod() == ZipEntry.DEFLATED && size > e.getCompressedSize() * MAX_DEFLATE_RATIO + 4096) {
            throw new CheckpointException(file, "zip entry '" + e.getName() + "' claims " + size + " bytes from "
                    + e.getCompressedSize() + " compressed bytes, more than deflate can produce");
        }
        return size;
    }

    /** The whole of a small entry, refusing entries above {@code limit} bytes. */
    static byte[] readSmall(Path file, ZipFile zip, ZipEntry e, long limit) throws IOException {
        long size = checkedSize(file, e);
        if (size > limit) {
            throw new CheckpointException(file, "zip entry '" + e.getName() + "' is " + size
                    + " bytes, above the " + limit + "-byte limit for it");
        }
        try (InputStream in = zip.getInputStream(e)) {
            byte[] b = in.readNBytes((int) size);
            if (b.length != size || in.read() >= 0) {
                throw new CheckpointException(file, "zip entry '" + e.getName() + "' does not hold the "
                        + size + " bytes its directory records");
            }
            return b;
        }
    }
}
