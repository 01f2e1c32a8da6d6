package org.xcit4j.backend.cuda;

import static org.xcit4j.bindings.cuda.cudart_h.*;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import org.xcit4j.backend.Precision;

/**
 * A model's weights on the device, in one storage type, shared by every {@link CudaBackend}
 * opened with it (a server's concurrent requests: each backend keeps its own context, stream,
 * cuBLASLt handle and graphs, the weights are uploaded once). Keyed by host address and
 * length, so the model's host tensors must stay open while backends use it. Each tensor gets
 * its own allocation (cudaMalloc: 256-byte aligned, what cuBLASLt prefers), converted on
 * upload; the weights computed from them ({@link DerivedWeights}: layer-scale folds, conv
 * filter relayouts) are shared too. Thread-safe. Closed
 * by its owner; the device memory goes when the last backend using it has closed as well.
 */
public final class CudaWeights implements AutoCloseable {
    /** A host tensor's bytes. */
    record Span(long address, long bytes) {}

    private final Precision precision;
    private final Map<Span, DeviceBuffer> uploaded = new HashMap<>();
    private final DerivedWeights derived = new DerivedWeights();
    private int users;
    private boolean closed;

    /**
     * Weights stored in {@code precision}'s storage type on the current device.
     *
     * @param precision the storage of the device copies
     */
    public CudaWeights(Precision precision) {
        this.precision = precision;
    }

    /**
     * The storage of the device copies.
     *
     * @return the precision
     */
    public Precision precision() {
        return precision;
    }

    /**
     * Device bytes held.
     *
     * @return the bytes
     */
    public synchronized long deviceBytes() {
        long total = 0;
        for (DeviceBuffer b : uploaded.values()) total += b.bytes();
        return total;
    }

    DerivedWeights derived() {
        return derived;
    }

    synchronized void attach(Precision backend) {
        if (closed) throw new IllegalStateException("the shared CUDA weights have been closed");
        if (backend != precision) {
            throw new IllegalArgumentException("weights stored for " + precision + " cannot serve a " + backend + " backend");
        }
        users++;
    }

    synchronized void detach() {
        users--;
        if (closed && users == 0) free();
    }

    /**
     * The device copy of the fp32 host bytes {@code w}, uploaded and converted on {@code stream}
     * (waited for) the first time any backend asks.
     */
    synchronized MemorySegment upload(Span w, MemorySegment ctx, MemorySegment stream) {
        if (closed) throw new IllegalStateException("the shared CUDA weights have been closed");
        DeviceBuffer b = uploaded.get(w);
        if (b == null) {
            b = DeviceBuffer.allocate(w.bytes() / Float.BYTES * precision.storageBytes());
            try (DeviceBuffer staging = precision.storageBytes() != Float.BYTES ? DeviceBuffer.allocate(w.bytes()) : null) {
                copyConverted(MemorySegment.ofAddress(w.address()).reinterpret(w.bytes()), b.address(), staging, precision, ctx,
                        stream);
            } catch (RuntimeException e) {
                b.close();
                throw e;
            }
            uploaded.put(w, b);
        }
        return b.address();
    }

    /**
     * fp32 host bytes to {@code dst} in the storage type, on {@code stream} and waited for:
     * straight in fp32, else into {@code staging} (fp32, at least as large) and converted by a
     * kernel on the same stream. Ordered on the stream on purpose: a synchronous cudaMemcpy
     * from pageable memory may return before its bytes land, and a non-blocking stream does
     * not wait for it (the first GPU run converted weights from a staging buffer the copy had
     * not reached yet: wrong fp16/bf16 results).
     */
    static void copyConverted(MemorySegment host, MemorySegment dst, DeviceBuffer staging, Precision precision,
                              MemorySegment ctx, MemorySegment stream) {
        long bytes = host.byteSize();
        if (staging == null) {
            Cuda.copy(dst, host, bytes, cudaMemcpyHostToDevice(), stream);
        } else {
            Cuda.copy(staging.address(), host, bytes, cudaMemcpyHostToDevice(), stream);
            Ops.convert(ctx, dst, CudaTypes.typeCode(precision), staging.address(), 0, bytes / Float.BYTES);
        }
        Cuda.check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (upload)");
    }

    private void free() {
        for (DeviceBuffer b : uploaded.values()) b.close();
        uploaded.clear();
        derived.close();
    }

    /** Frees the device copies now, or when the last backend using them closes; idempotent. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        if (users == 0) free();
    }
}
