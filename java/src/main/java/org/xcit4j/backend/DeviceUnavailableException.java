package org.xcit4j.backend;

/** The requested device cannot run here; the message says what is missing. */
public final class DeviceUnavailableException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception saying what is missing.
     *
     * @param message what is missing, one line
     */
    public DeviceUnavailableException(String message) {
        super(message);
    }
}
