package org.xcit4j.image;

import java.io.IOException;
import java.nio.file.Path;

/**
 * An image that cannot be read: missing, not an image, damaged, truncated or too large. The
 * message is one line that starts with the file, so a batch can report it and go on.
 */
public class ImageLoadException extends IOException {
    private final transient Path file;
    private final String reason;

    public ImageLoadException(Path file, String reason) {
        this(file, reason, null);
    }

    public ImageLoadException(Path file, String reason, Throwable cause) {
        super(file + ": " + reason, cause);
        this.file = file;
        this.reason = reason;
    }

    /** The file that failed. */
    public Path file() {
        return file;
    }

    /** What went wrong, without the file name. */
    public String reason() {
        return reason;
    }
}
