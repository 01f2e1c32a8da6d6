package org.xcit4j.hostile;

import java.nio.file.Path;
import java.util.List;

/**
 * One hostile file and the refusal it must get: an exception of {@code refusal} (or a
 * subclass) whose one-line message starts with the file's name and holds every fragment.
 *
 * @param name     what the file tries, for the test's display name
 * @param reader   how the file is read ({@link RefusalProbe} runs it in a separate JVM)
 * @param file     the crafted file
 * @param refusal  fully qualified name of the expected exception class
 * @param fragments parts the message must contain
 */
record Case(String name, Reader reader, Path file, String refusal, List<String> fragments) {
    /** The library entry point a file goes through, as an application would call it. */
    enum Reader {
        /** {@code Xcit.load(file)}: reader, architecture inference and model building. */
        CHECKPOINT,
        /** {@code Npy.read(file, arena)}: a model input. */
        NPY,
        /** {@code new ImageDecoder().decode(file)}, then timm's 224 resize and crop, as classify does. */
        IMAGE
    }

    static Case of(String name, Reader reader, Path file, Class<? extends Throwable> refusal, String... fragments) {
        return new Case(name, reader, file, refusal.getName(), List.of(fragments));
    }
}
