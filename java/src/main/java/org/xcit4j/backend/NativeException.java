package org.xcit4j.backend;

/** A native op returned an error status; the message carries the library's error text. */
public final class NativeException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    /**
     * The xcit_status code.
     */
    private final int status;

    /**
     * An exception for a failed native op.
     *
     * @param status the xcit_status code
     * @param message what failed, with the library's error text
     */
    public NativeException(int status, String message) {
        super(message);
        this.status = status;
    }

    /**
     * The xcit_status code (see xcit.h).
     *
     * @return the status
     */
    public int status() {
        return status;
    }
}
