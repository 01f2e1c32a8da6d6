package org.xcit4j.io;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A weight or data file that cannot be read: malformed, truncated, of an unsupported kind,
 * or refused for safety. The message is one line, {@code "<file>: <problem>"}, where the
 * problem names the key, byte offset or pickle global involved, so a command-line tool can
 * print {@link #getMessage()} alone.
 */
public class CheckpointException extends IOException {
    private static final long serialVersionUID = 1L;

    private static final int MAX_PROBLEM = 2000;

    private final transient Path file;
    /**
     * The message without the file name.
     */
    private final String problem;

    /**
     * An exception for {@code file}.
     *
     * @param file the file that could not be read
     * @param problem what is wrong, naming the key, offset or global involved
     */
    public CheckpointException(Path file, String problem) {
        this(file, problem, null);
    }

    /**
     * An exception for {@code file} caused by {@code cause}.
     *
     * @param file the file that could not be read
     * @param problem what is wrong, naming the key, offset or global involved
     * @param cause the underlying failure
     */
    public CheckpointException(Path file, String problem, Throwable cause) {
        super(file + ": " + oneLine(Objects.requireNonNull(problem)), cause);
        this.file = file;
        this.problem = oneLine(problem);
    }

    /**
     * Problems quote names taken from the file (tensor keys, zip entries, pickle strings), which
     * may hold newlines or be huge; escape control characters and cap the length so the
     * message stays one printable line.
     */
    private static String oneLine(String s) {
        StringBuilder b = new StringBuilder(Math.min(s.length(), MAX_PROBLEM + 3));
        int i = 0;
        for (; i < s.length() && b.length() < MAX_PROBLEM; i++) {
            char c = s.charAt(i);
            if (c == '\n') b.append("\\n");
            else if (Character.isISOControl(c)) b.append(String.format("\\x%02x", (int) c));
            else b.append(c);
        }
        if (i < s.length()) b.append("...");
        return b.toString();
    }

    /**
     * The file that could not be read.
     *
     * @return the file
     */
    public Path file() {
        return file;
    }

    /**
     * The message without the file name.
     *
     * @return the problem
     */
    public String problem() {
        return problem;
    }

    /**
     * Turns a low-level I/O failure (missing file, permission, device error) into a one-line
     * message naming the file; format problems already reported as CheckpointException pass
     * through unchanged.
     */
    static CheckpointException wrap(Path file, IOException e) {
        if (e instanceof CheckpointException c) return c;
        String detail = e.getMessage() == null ? "" : ": " + e.getMessage();
        String what = switch (e) {
            case java.nio.file.NoSuchFileException x -> "no such file";
            case java.io.FileNotFoundException x -> "cannot open" + detail;
            case java.nio.file.AccessDeniedException x -> "permission denied";
            case java.io.EOFException x -> "unexpected end of file" + detail;
            default -> "cannot read (" + e.getClass().getSimpleName() + detail + ")";
        };
        return new CheckpointException(file, what, e);
    }
}
