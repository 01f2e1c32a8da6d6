package org.xcit4j.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.xcit4j.bindings.xcit.xcit_h;

/** An xcit_ctx for a test, destroyed on close. */
final class NativeContext implements AutoCloseable {
    final MemorySegment ctx;

    NativeContext() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            assertEquals(xcit_h.XCIT_OK(), xcit_h.xcit_ctx_create(out));
            ctx = out.get(ValueLayout.ADDRESS, 0);
        }
    }

    String lastError() {
        return xcit_h.xcit_ctx_last_error(ctx).getString(0);
    }

    static String statusName(int status) {
        return xcit_h.xcit_status_string(status).getString(0);
    }

    @Override
    public void close() {
        xcit_h.xcit_ctx_destroy(ctx);
    }
}
