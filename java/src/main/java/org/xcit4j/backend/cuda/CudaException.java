package org.xcit4j.backend.cuda;

/** A CUDA runtime or cuBLASLt call failed; the message names the call and the library's error text. */
public final class CudaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception naming the failed call.
     *
     * @param message the call and the library's error text
     */
    public CudaException(String message) {
        super(message);
    }
}
