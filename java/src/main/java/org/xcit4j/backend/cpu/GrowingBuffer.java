package org.xcit4j.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Scratch memory that grows to the largest request and frees what it replaces: a backend's
 * staging and workspaces are sized by the largest shape it has served, not by the sum of
 * every size it has grown through.
 */
final class GrowingBuffer implements AutoCloseable {
    private Arena arena;
    private MemorySegment segment = MemorySegment.NULL;

    /** At least {@code bytes}, 64-byte aligned; when it has to grow, the old contents are gone. */
    MemorySegment atLeast(long bytes) {
        if (segment.byteSize() < bytes) {
            Arena fresh = Arena.ofShared();
            MemorySegment grown = fresh.allocate(bytes, 64);
            close();
            arena = fresh;
            segment = grown;
        }
        return segment;
    }

    /** Whether a request of {@code bytes} would replace the buffer. */
    boolean growsFor(long bytes) {
        return segment.byteSize() < bytes;
    }

    long bytes() {
        return segment.byteSize();
    }

    @Override
    public void close() {
        if (arena != null) arena.close();
        arena = null;
        segment = MemorySegment.NULL;
    }
}
