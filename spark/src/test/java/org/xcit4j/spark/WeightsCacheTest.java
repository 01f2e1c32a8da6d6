package org.xcit4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The weights cache directory is used only when another user cannot have put files in it:
 * a directory made by someone else, writable by others, or a symlink is refused (directory()
 * then copies into a fresh private directory instead).
 */
class WeightsCacheTest {

    @Test
    void ownPrivateDirectoryIsUsedAndMadeWhenAbsent(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("cache");
        assertEquals(dir, WeightsCache.usable(dir));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        assertEquals(dir, WeightsCache.usable(dir), "and again once it exists");
    }

    @Test
    void directoriesOthersCouldWriteAreRefused(@TempDir Path tmp) throws Exception {
        Path open = Files.createDirectory(tmp.resolve("open"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
        assertNull(WeightsCache.usable(open), "world-writable");

        Path real = Files.createDirectory(tmp.resolve("real"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path link = Files.createSymbolicLink(tmp.resolve("link"), real);
        assertNull(WeightsCache.usable(link), "a symlink");

        Path foreign = Files.createDirectory(tmp.resolve("foreign"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        UserPrincipal nobody;
        try {
            nobody = tmp.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
            Files.setOwner(foreign, nobody);
        } catch (Exception e) {
            org.junit.jupiter.api.Assumptions.abort("cannot give a directory to user nobody here (not root): " + e.getMessage());
            return;
        }
        assertNull(WeightsCache.usable(foreign), "owned by another user");
    }
}
