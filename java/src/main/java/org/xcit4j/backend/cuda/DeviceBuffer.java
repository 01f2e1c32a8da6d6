package org.xcit4j.backend.cuda;

import static org.xcit4j.bindings.cuda.cudart_h.*;

import java.lang.foreign.MemorySegment;

/**
 * CUDA device memory owned by Java: freed by {@link #close()} (idempotent), never by the
 * garbage collector; using it after close throws. Views ({@link #slice}) never free. For
 * users who keep inputs and outputs on the GPU ({@code CudaBackend.resident}), and for the
 * backend's own weights, activations and workspace.
 */
final class DeviceBuffer implements AutoCloseable {
    /** Bytes of every owning buffer not yet closed, process-wide (leak tests, diagnostics). */
    private static final java.util.concurrent.atomic.AtomicLong LIVE = new java.util.concurrent.atomic.AtomicLong();
    private MemorySegment address;
    private final long bytes;
    private final boolean owner;

    private DeviceBuffer(MemorySegment address, long bytes, boolean owner) {
        this.address = address;
        this.bytes = bytes;
        this.owner = owner;
    }

    /** cudaMalloc of {@code bytes} on the current device. */
    public static DeviceBuffer allocate(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("bytes = " + bytes);
        DeviceBuffer b = new DeviceBuffer(Cuda.malloc(bytes), bytes, true);
        LIVE.addAndGet(bytes);
        return b;
    }

    /** Device bytes held by buffers allocated here and not yet closed, in this process. */
    public static long liveBytes() {
        return LIVE.get();
    }

    /** A non-owning view of device memory someone else manages. */
    public static DeviceBuffer view(MemorySegment address, long bytes) {
        return new DeviceBuffer(address, bytes, false);
    }

    /** The device address; not dereferenceable on the host. */
    public MemorySegment address() {
        if (address == null) throw new IllegalStateException("the device buffer has been closed");
        return address;
    }

    public long bytes() {
        return bytes;
    }

    /** Bytes {@code [offset, offset + length)} as a view. */
    public DeviceBuffer slice(long offset, long length) {
        if (offset < 0 || length < 0 || offset + length > bytes) {
            throw new IndexOutOfBoundsException("slice [" + offset + ", " + (offset + length) + ") of " + bytes + " bytes");
        }
        return new DeviceBuffer(MemorySegment.ofAddress(address().address() + offset), length, false);
    }

    /**
     * Copy of {@code host} (exactly {@link #bytes()} long) to the device, complete when this
     * returns: cudaMemcpy from pageable memory may return before its bytes land, and a
     * session's non-blocking stream would not wait for them, so the legacy stream the copy
     * went to is synchronised too.
     */
    public void copyFrom(MemorySegment host) {
        requireSize(host);
        Cuda.check(cudaMemcpy(address(), host, bytes, cudaMemcpyHostToDevice()), "cudaMemcpy host to device");
        Cuda.check(cudaStreamSynchronize(MemorySegment.NULL), "cudaStreamSynchronize (legacy stream, after cudaMemcpy)");
    }

    /**
     * Synchronous copy of the device bytes into {@code host} (exactly {@link #bytes()} long).
     * It waits for the legacy stream only: synchronise the session's stream first
     * (CudaExecution.synchronize) when its work wrote these bytes.
     */
    public void copyTo(MemorySegment host) {
        requireSize(host);
        Cuda.check(cudaMemcpy(host, address(), bytes, cudaMemcpyDeviceToHost()), "cudaMemcpy device to host");
    }

    private void requireSize(MemorySegment host) {
        if (host.byteSize() != bytes) {
            throw new IllegalArgumentException("host segment of " + host.byteSize() + " bytes for a device buffer of " + bytes);
        }
    }

    @Override
    public void close() {
        if (address != null) {
            MemorySegment a = address;
            address = null;
            if (owner) {
                LIVE.addAndGet(-bytes);
                Cuda.check(cudaFree(a), "cudaFree");
            }
        }
    }
}
