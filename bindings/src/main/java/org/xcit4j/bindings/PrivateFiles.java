package org.xcit4j.bindings;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

/**
 * The file-system rules for code we load into the process. A shared library is only taken
 * from a directory that no other user can change, and it is hashed and {@code dlopen}ed
 * through one open file descriptor ({@code /proc/self/fd/N}), so that what runs is exactly
 * what was checked, whatever happens to the directory entry in between.
 */
final class PrivateFiles {
    /** Linux x86-64 open(2) flags. */
    private static final int O_RDONLY = 0, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000;
    /** Group- and other-write bits of st_mode. */
    private static final int GROUP_OR_OTHER_WRITE = 0022;
    private static final int S_IFMT = 0170000, S_IFREG = 0100000, S_IFDIR = 0040000;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle OPEN = libc("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = libc("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle GETEUID = libc("geteuid", FunctionDescriptor.of(JAVA_INT));

    private PrivateFiles() {}

    private static MethodHandle libc(String name, FunctionDescriptor fd, Linker.Option... options) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd, options);
    }

    /** The effective user id of this process: the owner every private file must have. */
    static int euid() {
        try {
            return (int) GETEUID.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException("geteuid failed", t);
        }
    }

    /**
     * A file opened without following a final symbolic link; {@link #procPath()} names the
     * open file itself, so reading or loading through it cannot reach another file.
     */
    static final class OpenFile implements AutoCloseable {
        final Path path;
        private final int fd;
        private boolean closed;

        private OpenFile(Path path, int fd) {
            this.path = path;
            this.fd = fd;
        }

        /** {@code /proc/self/fd/N}: the kernel's link to this open file (its inode, even if renamed or deleted). */
        String procPath() {
            return "/proc/self/fd/" + fd;
        }

        /**
         * dlopen's this file through {@link #procPath()} and keeps the descriptor open for
         * good: the dynamic linker remembers a library by the name it was opened with and
         * answers a later dlopen of the same name with it, so that name must never come to
         * mean another file (as a closed and reused descriptor number would).
         */
        SymbolLookup load() {
            // The String form: libraryLookup(Path) would resolve /proc/self/fd/N back to a name.
            SymbolLookup lookup = SymbolLookup.libraryLookup(procPath(), Arena.global());
            closed = true;
            return lookup;
        }

        /** uid and mode of the open file (stat through the descriptor, not the name). */
        Map<String, Object> attributes() throws IOException {
            return Files.readAttributes(Path.of(procPath()), "unix:uid,mode");
        }

        /** SHA-256 of the open file's content, read through the descriptor. */
        String sha256() throws IOException {
            try (InputStream in = Files.newInputStream(Path.of(procPath()))) {
                return PrivateFiles.sha256(in, null);
            }
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            try {
                int ignored = (int) CLOSE.invokeExact(fd);
            } catch (Throwable t) {
                throw new IllegalStateException("close failed", t);
            }
        }
    }

    /** Opens {@code file} read-only, refusing a symbolic link in its last component. */
    static OpenFile open(Path file) throws IOException {
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            fd = (int) OPEN.invokeExact(arena.allocateFrom(file.toString()), O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
        } catch (Throwable t) {
            throw new IOException("open(" + file + ") failed: " + t, t);
        }
        if (fd < 0) {
            throw new IOException("cannot open " + file
                    + (Files.isSymbolicLink(file) ? ": it is a symbolic link" : ": missing or unreadable"));
        }
        return new OpenFile(file, fd);
    }

    /**
     * Opens {@code file} if it is a regular file owned by this user that nobody else can
     * write, with content hash {@code sha}; null when it is anything else (a caller then
     * writes its own copy in its place).
     */
    static OpenFile openVerified(Path file, String sha) throws IOException {
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) return null;
        OpenFile f;
        try {
            f = open(file);
        } catch (IOException e) {
            return null;
        }
        try {
            Map<String, Object> a = f.attributes();
            int mode = (Integer) a.get("mode");
            if ((mode & S_IFMT) == S_IFREG && (Integer) a.get("uid") == euid() && (mode & GROUP_OR_OTHER_WRITE) == 0
                    && f.sha256().equals(sha)) {
                return f;
            }
        } catch (IOException | RuntimeException e) {
            // unreadable or odd: treated like a wrong copy
        }
        f.close();
        return null;
    }

    /**
     * Opens a library that someone named by path ({@code -Dxcit.native.dir}, a CUDA
     * installation): links are resolved first, then the file and its directory must be ones
     * no other user can change (owned by this user or root, not group/other writable).
     */
    static OpenFile openTrusted(Path path) throws IOException {
        Path real = path.toRealPath();
        requireTrustedDirectory(real.getParent(), true);
        OpenFile f = open(real);
        Map<String, Object> a = f.attributes();
        int uid = (Integer) a.get("uid"), mode = (Integer) a.get("mode");
        if ((uid != euid() && uid != 0) || (mode & GROUP_OR_OTHER_WRITE) != 0) {
            f.close();
            throw new AccessDeniedException(real.toString(), null, "owned by uid " + uid + " with mode "
                    + String.format("%o", mode & 07777) + ": other users could change it");
        }
        return f;
    }

    /**
     * Refuses {@code dir} unless it is a real directory (not a symbolic link) that nobody but
     * its owner can write, owned by this user or, where {@code rootMayOwn}, by root (system
     * installations such as /usr/local/cuda).
     */
    static void requireTrustedDirectory(Path dir, boolean rootMayOwn) throws IOException {
        Map<String, Object> a;
        try {
            a = Files.readAttributes(dir, "unix:uid,mode", LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new IOException(dir + " cannot be examined: " + e, e);
        }
        int uid = (Integer) a.get("uid"), mode = (Integer) a.get("mode"), me = euid();
        if ((mode & S_IFMT) != S_IFDIR) {
            throw new AccessDeniedException(dir.toString(), null, "not a directory (a symbolic link or a file)");
        }
        if (uid != me && !(rootMayOwn && uid == 0)) {
            throw new AccessDeniedException(dir.toString(), null, "owned by uid " + uid + ", not by this user (uid " + me + ")"
                    + (rootMayOwn ? " or root" : ""));
        }
        if ((mode & GROUP_OR_OTHER_WRITE) != 0) {
            throw new AccessDeniedException(dir.toString(), null, "writable by other users (mode "
                    + String.format("%o", mode & 07777) + ")");
        }
    }

    /** Creates {@code dir} (mode 0700) if absent, then requires it to be ours alone. */
    static void ensurePrivateDirectory(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            try {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            } catch (java.nio.file.FileAlreadyExistsException e) {
                // made concurrently (by another of our JVMs, or by someone else): checked below
            }
        }
        requireTrustedDirectory(dir, false);
    }

    /** A new, empty directory that only this user can enter: mkdir(2) with a random name, mode 0700. */
    static Path createFreshPrivateDirectory(Path parent, String prefix) throws IOException {
        Path dir = Files.createTempDirectory(parent, prefix,
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        requireTrustedDirectory(dir, false);
        return dir;
    }

    /** SHA-256 of everything in {@code in}, copying it to {@code out} when that is not null. */
    static String sha256(InputStream in, OutputStream out) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
        // Streamed, never held whole: libdnnl.so.3 is ~90 MB, and a byte[] of it would stay
        // in the process's resident memory as heap the JVM does not give back.
        byte[] buffer = new byte[1 << 16];
        for (int n; (n = in.read(buffer)) > 0; ) {
            digest.update(buffer, 0, n);
            if (out != null) out.write(buffer, 0, n);
        }
        return HexFormat.of().formatHex(digest.digest());
    }
}
