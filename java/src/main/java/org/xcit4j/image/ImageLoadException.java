package org.xcit4j.image;

import java.io.IOException;
import java.nio.file.Path;

/**
 * An image that cannot be read: missing, not an image, damaged, truncated or too large. The
 * message is one line that starts with the file, so a batch can report it and go on.
 */
public class ImageLoadException extends IOException {
    /**
     * The file that failed (not serialized).
     */
    private final transient Path file;
    /**
     * What went wrong, without the file name.
     */
    private final String reason;

    /**
     * An exception for {@code file}.
     *
     * @param file the file that failed
     * @param reason what went wrong, one line without the file name
     */
    public ImageLoadException(Path file, String reason) {
        this(file, reason, null);
    }

    /**
     * An exception for {@code file} caused by {@code cause}.
     *
     * @param file the file that failed
     * @param reason what went wrong, one line without the file name
     * @param cause the underlying failure
     */
    public ImageLoadException(Path file, String reason, Throwable cause) {
        super(file + ": " + reason, cause);
        this.file = file;
        this.reason = reason;
    }

    /**
     * The file that failed.
     *
     * @return the file
     */
    public Path file() {
        return file;
    }

    /**
     * What went wrong, without the file name.
     *
     * @return the reason
     */
    public String reason() {
        return reason;
    }
}
