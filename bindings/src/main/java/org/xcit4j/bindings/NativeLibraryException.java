package org.xcit4j.bindings;

/**
 * A native library could not be found, extracted, loaded or accepted. The message says
 * which library, what was missing and why (absent from this build, the dynamic linker's
 * error, an ABI mismatch), so it can be shown to a user as is.
 *
 * <p>Unchecked: the generated bindings look symbols up from static initialisers, where a
 * checked exception cannot travel; callers that want a fallback (e.g. CPU when CUDA is
 * absent) ask {@link NativeLibraries#isAvailable} first.
 */
public final class NativeLibraryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception with a message for the user.
     *
     * @param message which library, and why
     */
    public NativeLibraryException(String message) {
        super(message);
    }

    /**
     * An exception with a message for the user and its cause.
     *
     * @param message which library, and why
     * @param cause the underlying failure
     */
    public NativeLibraryException(String message, Throwable cause) {
        super(message, cause);
    }
}
