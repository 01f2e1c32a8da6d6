package org.xcit4j.image;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Expands command-line arguments into image files: a directory stands for every image in it
 * (recursively, by extension, sorted by path so runs are reproducible); anything else is
 * taken as named, even if missing, so that it fails with its own error in the batch.
 */
public final class ImageFiles {
    /** Extensions (lower case) of the formats {@link ImageDecoder} reads. */
    public static final Set<String> EXTENSIONS = Set.of("jpg", "jpeg", "jpe", "jfif", "png", "bmp", "dib", "gif", "webp");

    private ImageFiles() {
    }

    /** The files {@code args} name, in argument order, each directory's images sorted. */
    public static List<Path> expand(List<Path> args) throws IOException {
        List<Path> out = new ArrayList<>();
        for (Path a : args) {
            if (Files.isDirectory(a)) {
                try (Stream<Path> s = Files.walk(a, FileVisitOption.FOLLOW_LINKS)) {
                    s.filter(Files::isRegularFile).filter(ImageFiles::hasImageExtension).sorted().forEach(out::add);
                } catch (UncheckedIOException e) {
                    throw e.getCause();
                }
            } else {
                out.add(a);
            }
        }
        return out;
    }

    /** Whether the file name ends in one of {@link #EXTENSIONS}, in any case. */
    public static boolean hasImageExtension(Path p) {
        String n = p.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 && EXTENSIONS.contains(n.substring(dot + 1).toLowerCase(Locale.ROOT));
    }
}
