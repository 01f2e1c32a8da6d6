package org.xcit4j.image;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.FileVisitOption;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Consumer;

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

    /**
     * The files {@code args} name, in argument order, each directory's images sorted; any entry that cannot be walked fails.
     *
     * @param args files and directories
     * @return the files
     * @throws IOException if a directory cannot be walked
     */
    public static List<Path> expand(List<Path> args) throws IOException {
        try {
            return expand(args, e -> {
                throw new UncheckedIOException(e);
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /**
     * Like {@link #expand(List)}, but an entry of a directory that cannot be walked (a symbolic
     * link loop, a directory that cannot be read) goes to {@code failures}, and the walk goes
     * on: one bad entry must not hide the other images of a batch.
     *
     * @param args files and directories
     * @param failures receives each entry that cannot be walked
     * @return the files
     * @throws IOException if a directory cannot be walked at all
     */
    public static List<Path> expand(List<Path> args, Consumer<ImageLoadException> failures) throws IOException {
        List<Path> out = new ArrayList<>();
        for (Path a : args) {
            if (Files.isDirectory(a)) {
                List<Path> found = new ArrayList<>();
                Files.walkFileTree(a, Set.of(FileVisitOption.FOLLOW_LINKS), Integer.MAX_VALUE, new SimpleFileVisitor<>() {
                    @Override
                    public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                        if (attrs.isRegularFile() && hasImageExtension(file)) found.add(file);
                        return FileVisitResult.CONTINUE;
                    }

                    @Override
                    public FileVisitResult visitFileFailed(Path file, IOException e) {
                        failures.accept(new ImageLoadException(file, e instanceof FileSystemLoopException
                                ? "symbolic link loop: it leads back to a directory being walked; skipped"
                                : "cannot be walked (" + e.getClass().getSimpleName() + "); skipped", e));
                        return FileVisitResult.CONTINUE;
                    }
                });
                found.stream().sorted().forEach(out::add);
            } else {
                out.add(a);
            }
        }
        return out;
    }

    /**
     * Whether the file name ends in one of {@link #EXTENSIONS}, in any case.
     *
     * @param p a path
     * @return whether it names an image format
     */
    public static boolean hasImageExtension(Path p) {
        String n = p.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 && EXTENSIONS.contains(n.substring(dot + 1).toLowerCase(Locale.ROOT));
    }
}
