package org.xcit4j.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NativeLibrariesTest {
    private static final String RESOURCE = "/org/xcit4j/natives/linux-x86_64/libxcit.so";

    @Test
    void extractsOnceIntoADirectoryNamedByTheContentHash(@TempDir Path cache) throws Exception {
        NativeLibraries.Library first = NativeLibraries.loadFrom(NativeLibraries.XCIT, null, cache);
        byte[] bytes;
        try (InputStream in = NativeLibraries.class.getResourceAsStream(RESOURCE)) {
            bytes = in.readAllBytes();
        }
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        assertEquals(cache.resolve(sha).resolve("libxcit.so"), first.path());
        assertEquals(org.xcit4j.bindings.xcit.xcit_h.XCIT_ABI_VERSION(), first.abiVersion());
        long modified = Files.getLastModifiedTime(first.path()).toMillis();

        NativeLibraries.Library second = NativeLibraries.loadFrom(NativeLibraries.XCIT, null, cache);
        assertEquals(first.path(), second.path());
        assertEquals(modified, Files.getLastModifiedTime(second.path()).toMillis(), "rewritten");
        try (var files = Files.list(cache.resolve(sha))) {
            assertEquals(List.of(first.path()), files.toList(), "temporary files left behind");
        }
    }

    @Test
    void replacesACorruptedCopy(@TempDir Path cache) throws Exception {
        // extract() only: truncating a file this JVM has mapped would crash it (SIGBUS),
        // which is why the loader itself only ever renames a complete file into place.
        Path path;
        try (var e = NativeLibraries.extract(NativeLibraries.XCIT, RESOURCE, cache)) {
            path = e.file().path;
        }
        Files.write(path, new byte[] {1, 2, 3});
        try (var e = NativeLibraries.extract(NativeLibraries.XCIT, RESOURCE, cache)) {
            assertEquals(path, e.file().path);
            assertEquals("", e.note());
        }
        assertTrue(Files.size(path) > 3);
    }

    @Test
    void overrideDirectoryIsUsedAndNeverFallsBack(@TempDir Path cache, @TempDir Path empty) {
        Path dir = NativeLibraries.loadFrom(NativeLibraries.XCIT, null, cache).path().getParent();
        NativeLibraries.Library lib = NativeLibraries.loadFrom(NativeLibraries.XCIT, dir, cache);
        assertEquals(dir.resolve("libxcit.so"), lib.path());
        assertTrue(lib.source().contains("xcit.native.dir"), lib.source());

        var e = assertThrows(NativeLibraryException.class,
                () -> NativeLibraries.loadFrom(NativeLibraries.XCIT, empty, cache));
        assertTrue(e.getMessage().startsWith("libxcit.so not found in " + empty), e.getMessage());
    }

    @Test
    void dlopenFailureCarriesTheLinkersReason(@TempDir Path dir, @TempDir Path cache) throws IOException {
        // The real library marked 32-bit (ELF ident byte 4): a file the linker rejects for a
        // reason it names, and whose program headers still say "no executable stack" (a
        // file that is not ELF at all makes the JVM print a stack-guard warning).
        byte[] elf;
        try (InputStream in = NativeLibraries.class.getResourceAsStream(RESOURCE)) {
            elf = in.readAllBytes();
        }
        elf[4] = 1; // ELFCLASS32
        Files.write(dir.resolve("libxcit.so"), elf);
        var e = assertThrows(NativeLibraryException.class,
                () -> NativeLibraries.loadFrom(NativeLibraries.XCIT, dir, cache));
        assertTrue(e.getMessage().startsWith("cannot load " + dir.resolve("libxcit.so") + ": "), e.getMessage());
        assertTrue(e.getMessage().contains("wrong ELF class"), e.getMessage()); // glibc's dlerror()
    }

    @Test
    void absentCudaResourceSaysBuiltWithoutCuda(@TempDir Path cache) {
        var e = assertThrows(NativeLibraryException.class, () -> NativeLibraries.extract(
                NativeLibraries.XCIT_CUDA, "/org/xcit4j/natives/nowhere/libxcit_cuda.so", cache));
        assertTrue(e.getMessage().contains("is absent") && e.getMessage().contains("built without CUDA"),
                e.getMessage());
    }

    @Test
    void abiMismatchIsRefusedWithBothNumbers() {
        var e = assertThrows(NativeLibraryException.class,
                () -> NativeLibraries.requireAbi(Path.of("/x/libxcit.so"), 7, 1));
        assertTrue(e.getMessage().contains("version 7") && e.getMessage().contains("version 1"), e.getMessage());
    }

    @Test
    void describeNamesEveryLibrary() {
        List<String> lines = NativeLibraries.describe();
        assertEquals(NativeLibraries.NAMES.size(), lines.size());
        assertTrue(lines.get(0).startsWith("xcit: /"), lines.get(0));
        assertTrue(lines.get(1).startsWith("xcit_cuda: "), lines.get(1));
        assertThrows(IllegalArgumentException.class, () -> NativeLibraries.load("cublas"));
    }
}
