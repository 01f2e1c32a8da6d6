package org.xcit4j.backend.cuda;

import static org.xcit4j.bindings.cuda.cudart_h.*;

import java.lang.foreign.MemorySegment;

/**
 * CUDA device memory owned by Java: freed by {@link #close()} (idempotent), never by the
 * garbage collector; using it after close throws. Views ({@link #slice}) never free. For
 * users who keep inputs and outputs on the GPU ({@code CudaBackend.resident}), and for the
 * backend's own weights, activations and workspace.
 */
public final class DeviceBuffer implements AutoCloseable {
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
        return new DeviceBuffer(Cuda.malloc(bytes), bytes, true);
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

    /** Synchronous copy of {@code host} (exactly {@link #bytes()} long) to the device. */
    public void copyFrom(MemorySegment host) {
        requireSize(host);
        Cuda.check(cudaMemcpy(address(), host, bytes, cudaMemcpyHostToDevice()), "cudaMemcpy host to device");
    }

    /** Synchronous copy of the device bytes into {@code host} (exactly {@link #bytes()} long). */
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
            if (owner) Cuda.check(cudaFree(a), "cudaFree");
        }
    }
}
