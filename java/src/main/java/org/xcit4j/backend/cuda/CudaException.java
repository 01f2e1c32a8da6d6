package org.xcit4j.backend.cuda;

/** A CUDA runtime or cuBLASLt call failed; the message names the call and the library's error text. */
public final class CudaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CudaException(String message) {
        super(message);
    }
}
