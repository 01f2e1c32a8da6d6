package org.xcit4j.backend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.xcit4j.bindings.NativeLibraries;
import org.xcit4j.bindings.xcit.xcit_h;

/**
 * Owns one native {@code xcit_ctx} (error text, later thread pool and workspace) and turns
 * status codes into exceptions. Not thread-safe: one context per session.
 *
 * <p>Public only because the native backends live in their own packages; not API.
 */
public final class NativeContext implements AutoCloseable {
    private MemorySegment ctx;

    /** Loads libxcit (checking its ABI version) and creates a context. */
    public NativeContext() {
        NativeLibraries.load(NativeLibraries.XCIT); // the plain, descriptive exception if it cannot load
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            int status = xcit_h.xcit_ctx_create(out);
            if (status != xcit_h.XCIT_OK()) {
                throw new NativeException(status, "xcit_ctx_create failed: " + statusName(status));
            }
            ctx = out.get(ValueLayout.ADDRESS, 0);
        }
    }

    /**
     * The raw context pointer, for downcalls.
     *
     * @return the xcit_ctx pointer
     * @throws IllegalStateException if the context is closed
     */
    public MemorySegment handle() {
        if (ctx == null) throw new IllegalStateException("the native context has been closed");
        return ctx;
    }

    /**
     * Throws if {@code status} is not XCIT_OK, with the op name and the context's error text.
     *
     * @param status an xcit_status
     * @param op names the op in the message
     * @throws NativeException if the status is an error
     */
    public void check(int status, String op) {
        if (status == xcit_h.XCIT_OK()) return;
        String text = xcit_h.xcit_ctx_last_error(handle()).getString(0);
        throw new NativeException(status, op + " failed (" + statusName(status) + "): " + text);
    }

    private static String statusName(int status) {
        return xcit_h.xcit_status_string(status).getString(0);
    }

    /** Destroys the context; closing twice is harmless. */
    @Override
    public void close() {
        if (ctx != null) {
            xcit_h.xcit_ctx_destroy(ctx);
            ctx = null;
        }
    }
}
