package org.xcit4j.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared library cache lives in a shared temporary directory, so another local user can
 * prepare it before we run: a world-writable root with genuine copies inside (which they can
 * swap between our hash check and dlopen), a root they own, a symbolic link to a directory
 * of theirs. None of these may ever be loaded from; the loader must fall back to a private
 * copy (not fail, which would push callers to the slow Java backend). "Another user" is
 * simulated with uid 65534 (nobody), which needs root; those cases are skipped otherwise.
 */
class ForeignCacheTest {
    private static final String RESOURCE = "/org/xcit4j/natives/linux-x86_64/libxcit.so";
    private static final int NOBODY = 65534;

    @TempDir
    Path tmp;

    @Test
    void worldWritableRootWithGenuineCopiesIsNotUsed() throws Exception {
        Path root = genuineCache(tmp.resolve("xcit4j-victim"));
        chmod(root, "rwxrwxrwx");
        assertLoadedPrivately(root, root);
    }

    @Test
    void worldWritableContentDirectoryIsNotUsed() throws Exception {
        Path root = genuineCache(tmp.resolve("xcit4j-victim"));
        chmod(root.resolve(sha()), "rwxrwxrwx");
        assertLoadedPrivately(root, root);
    }

    @Test
    void rootOwnedByAnotherUserIsNotUsed() throws Exception {
        assumeTrue(isRoot(), "needs root to give the directory to another uid");
        Path root = genuineCache(tmp.resolve("xcit4j-victim"));
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.toList()) Files.setAttribute(p, "unix:uid", NOBODY, LinkOption.NOFOLLOW_LINKS);
        }
        assertLoadedPrivately(root, root);
    }

    @Test
    void symlinkedRootIsNotFollowed() throws Exception {
        Path theirs = genuineCache(tmp.resolve("theirs"));
        Path root = Files.createSymbolicLink(tmp.resolve("xcit4j-victim"), theirs);
        assertLoadedPrivately(root, theirs);
    }

    @Test
    void aCopyOwnedByAnotherUserInOurCacheIsReplacedNotLoaded() throws Exception {
        assumeTrue(isRoot(), "needs root to give the file to another uid");
        Path root = genuineCache(tmp.resolve("xcit4j-me"));
        Path file = root.resolve(sha()).resolve("libxcit.so");
        Files.setAttribute(file, "unix:uid", NOBODY);
        Object foreignInode = Files.getAttribute(file, "unix:ino");
        NativeLibraries.Library lib = NativeLibraries.loadFrom(NativeLibraries.XCIT, null, root);
        assertEquals(file, lib.path());
        assertEquals(0, Files.getAttribute(file, "unix:uid"), "the foreign copy was kept");
        assertFalse(foreignInode.equals(Files.getAttribute(file, "unix:ino")), "the foreign inode is still in place");
        assertFalse(mapped(foreignInode), "the foreign copy was mapped into this process");
    }

    @Test
    void aCudaInstallationOthersCanWriteIsRefused() throws Exception {
        // Any ELF will do: the directory is refused before the file is opened. A name the
        // dynamic linker cannot find by itself, so that the CUDA_HOME candidate is reached.
        Path lib64 = Files.createDirectories(tmp.resolve("cuda").resolve("lib64"));
        try (InputStream in = NativeLibraries.class.getResourceAsStream(RESOURCE)) {
            Files.copy(in, lib64.resolve("libxcit4j_absent.so.13"));
        }
        chmod(lib64, "rwxrwxrwx");
        var outcome = CudaLibraries.attempt("xcit4j_absent", new int[] {13}, tmp.resolve("cuda").toString());
        String m = outcome.failure().getMessage();
        assertTrue(m.contains(lib64.resolve("libxcit4j_absent.so.13") + " (refused: ") && m.contains("writable by other users"), m);
        assertFalse(mappedPath(lib64), "the file in the world-writable directory was mapped");
    }

    /** Loads through {@code root}; nothing under {@code foreign} may be mapped, and the copy used is private. */
    private static void assertLoadedPrivately(Path root, Path foreign) throws IOException {
        NativeLibraries.Library lib = NativeLibraries.loadFrom(NativeLibraries.XCIT, null, root);
        assertEquals(org.xcit4j.bindings.xcit.xcit_h.XCIT_ABI_VERSION(), lib.abiVersion());
        assertFalse(lib.path().startsWith(root) || lib.path().startsWith(foreign), "loaded from the foreign cache: " + lib.path());
        assertTrue(lib.source().contains("private copy") && lib.source().contains(root.toString()), lib.source());
        assertFalse(mappedPath(root) || mappedPath(foreign), "mapped from the foreign cache");
    }

    private static boolean mappedPath(Path dir) throws IOException {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().anyMatch(l -> l.contains(dir.toString()));
    }

    /** A cache laid out as the loader writes it, holding a genuine copy of libxcit.so. */
    private static Path genuineCache(Path root) throws Exception {
        Path dir = Files.createDirectories(root.resolve(sha()));
        try (InputStream in = NativeLibraries.class.getResourceAsStream(RESOURCE)) {
            Files.copy(in, dir.resolve("libxcit.so"));
        }
        chmod(root, "rwx------");
        chmod(dir, "rwx------");
        return root;
    }

    private static String sha() throws Exception {
        try (InputStream in = NativeLibraries.class.getResourceAsStream(RESOURCE)) {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(in.readAllBytes()));
        }
    }

    private static void chmod(Path p, String perms) throws IOException {
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(perms));
    }

    private static boolean isRoot() throws IOException {
        Path probe = Files.createTempFile("xcit4j-uid", ".probe");
        try {
            return Integer.valueOf(0).equals(Files.getAttribute(probe, "unix:uid"));
        } finally {
            Files.delete(probe);
        }
    }

    /** Whether a file with inode {@code inode} is mapped into this process (column 5 of /proc/self/maps). */
    private static boolean mapped(Object inode) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc/self/maps"));
        return lines.stream().map(l -> l.trim().split("\\s+")).anyMatch(f -> f.length >= 6 && f[4].equals(inode.toString()));
    }
}
