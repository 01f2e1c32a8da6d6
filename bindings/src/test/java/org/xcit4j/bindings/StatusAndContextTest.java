package org.xcit4j.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.xcit4j.bindings.xcit.xcit_h;

class StatusAndContextTest {

    @Test
    void abiVersionMatchesTheBindings() {
        assertEquals(xcit_h.XCIT_ABI_VERSION(), xcit_h.xcit_abi_version());
    }

    @Test
    void everyStatusHasItsOwnName() {
        assertEquals("XCIT_OK", NativeContext.statusName(xcit_h.XCIT_OK()));
        assertEquals("XCIT_ERR_INVALID_ARGUMENT", NativeContext.statusName(xcit_h.XCIT_ERR_INVALID_ARGUMENT()));
        assertEquals("XCIT_ERR_OUT_OF_MEMORY", NativeContext.statusName(xcit_h.XCIT_ERR_OUT_OF_MEMORY()));
        assertEquals("XCIT_ERR_UNSUPPORTED", NativeContext.statusName(xcit_h.XCIT_ERR_UNSUPPORTED()));
        assertEquals("XCIT_ERR_CUDA", NativeContext.statusName(xcit_h.XCIT_ERR_CUDA()));
        assertEquals("XCIT_ERR_INTERNAL", NativeContext.statusName(xcit_h.XCIT_ERR_INTERNAL()));
        assertEquals("XCIT_ERR_UNKNOWN", NativeContext.statusName(-1));
        assertEquals("XCIT_ERR_UNKNOWN", NativeContext.statusName(1000));
    }

    @Test
    void contextLifecycle() {
        try (NativeContext c = new NativeContext()) {
            assertFalse(c.ctx.equals(MemorySegment.NULL));
            assertEquals("", c.lastError());
        }
        assertEquals(xcit_h.XCIT_ERR_INVALID_ARGUMENT(), xcit_h.xcit_ctx_create(MemorySegment.NULL));
        xcit_h.xcit_ctx_destroy(MemorySegment.NULL); // documented as harmless
        assertFalse(xcit_h.xcit_ctx_last_error(MemorySegment.NULL).getString(0).isEmpty());
    }
}
