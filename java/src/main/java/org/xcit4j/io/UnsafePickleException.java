package org.xcit4j.io;

import java.nio.file.Path;

/**
 * A pickle asked for something outside the allow-list (a global such as {@code os.system},
 * a call of a non-constructor). Raised before anything of the request is executed: the
 * restricted unpickler never runs code named by a file.
 */
public final class UnsafePickleException extends CheckpointException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception for {@code file}.
     *
     * @param file the checkpoint
     * @param problem what was refused, by name
     */
    public UnsafePickleException(Path file, String problem) {
        super(file, problem);
    }
}
