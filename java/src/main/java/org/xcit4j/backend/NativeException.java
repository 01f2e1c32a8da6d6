package org.xcit4j.backend;

/** A native op returned an error status; the message carries the library's error text. */
public final class NativeException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int status;

    public NativeException(int status, String message) {
        super(message);
        this.status = status;
    }

    /** The xcit_status code (see xcit.h). */
    public int status() {
        return status;
    }
}
