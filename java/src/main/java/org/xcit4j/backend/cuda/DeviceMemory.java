package org.xcit4j.backend.cuda;

import static org.xcit4j.bindings.cuda.cudart_h.*;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.xcit4j.backend.Precision;
import org.xcit4j.tensor.Tensor;

/**
 * Where each host tensor the model and session hand to the backend lives on the device.
 * The Java side keeps composing with host {@link Tensor}s (the model's weights, the memory
 * plan's views); this class maps their host address ranges to device addresses:
 * <ul>
 *   <li>the session's whole activation block to one device allocation, offsets scaled by
 *       the storage size (a 16-bit session halves every offset; the plan's 64-byte
 *       alignment stays 32-byte aligned);
 *   <li>exact tensors to dedicated fp32 buffers (the input slot and fp32 output copies);
 *   <li>weights, collected during a dry run of the forward, each (a view too) to its own
 *       256-byte aligned slice of ONE device allocation, converted to the storage type on
 *       upload: every weight and bias a kernel or cuBLASLt reads starts aligned.
 * </ul>
 * Every copy to the device is ordered on the session's stream, and waited for there: a
 * synchronous cudaMemcpy from pageable memory may return before its bytes land, and the
 * session's non-blocking stream does not wait for it (the first GPU run converted weights
 * from a staging buffer the copy had not reached yet: wrong fp16/bf16 results).
 */
final class DeviceMemory implements AutoCloseable {
    /** [hostStart, hostStart + hostBytes) -> device + (address - hostStart) * scale. */
    private record Region(long hostStart, long hostBytes, long device, int storageBytes) {
        boolean contains(long address, long bytes) {
            return address >= hostStart && address + bytes <= hostStart + hostBytes;
        }

        long map(long address) {
            return device + (address - hostStart) / Float.BYTES * storageBytes;
        }
    }

    /** A host tensor's bytes: where exact mappings are keyed. */
    private record Span(long address, long bytes) {
        static Span of(Tensor t) {
            return new Span(t.segment().address(), t.segment().byteSize());
        }
    }

    private final TreeMap<Long, Region> regions = new TreeMap<>();
    private final Map<Span, Region> exact = new HashMap<>();
    private final Set<Span> collected = new LinkedHashSet<>();
    private final List<DeviceBuffer> owned = new ArrayList<>();

    /** Maps every tensor inside {@code host} into {@code device}, stored with {@code storageBytes} per element. */
    void mirror(MemorySegment host, DeviceBuffer device, int storageBytes) {
        regions.put(host.address(), new Region(host.address(), host.byteSize(), device.address().address(), storageBytes));
    }

    /** Maps exactly {@code t} (same address and size) to the fp32 buffer {@code device}, before any region. */
    void pin(Tensor t, DeviceBuffer device) {
        MemorySegment s = t.segment();
        exact.put(Span.of(t), new Region(s.address(), s.byteSize(), device.address().address(), Float.BYTES));
    }

    /** The device address of {@code t}, or null if it is not on the device (yet). */
    MemorySegment device(Tensor t) {
        Region e = exact.get(Span.of(t));
        if (e != null) return MemorySegment.ofAddress(e.device());
        long address = t.segment().address(), bytes = t.segment().byteSize();
        Map.Entry<Long, Region> r = regions.floorEntry(address);
        return r != null && r.getValue().contains(address, bytes) ? MemorySegment.ofAddress(r.getValue().map(address)) : null;
    }

    /** Records a host tensor the dry run met that is not mapped: a weight. */
    void collect(Tensor t) {
        collected.add(Span.of(t));
    }

    /**
     * Uploads every collected weight into one device allocation, each tensor in its own
     * 256-byte aligned slice (cuBLASLt's default alignment; views of one host tensor get
     * copies of their own). 16-bit storage converts through an fp32 staging buffer.
     */
    void uploadWeights(Precision precision, MemorySegment ctx, MemorySegment stream) {
        long total = 0, largest = 0;
        for (Span w : collected) {
            total += align(w.bytes() / Float.BYTES * precision.storageBytes());
            largest = Math.max(largest, w.bytes());
        }
        DeviceBuffer block = keep(DeviceBuffer.allocate(total));
        try (DeviceBuffer staging = precision.storageBytes() != Float.BYTES ? DeviceBuffer.allocate(largest) : null) {
            long offset = 0;
            for (Span w : collected) {
                DeviceBuffer slot = block.slice(offset, w.bytes() / Float.BYTES * precision.storageBytes());
                copyConverted(MemorySegment.ofAddress(w.address()).reinterpret(w.bytes()), slot.address(), staging, precision,
                        ctx, stream);
                exact.put(w, new Region(w.address(), w.bytes(), slot.address().address(), precision.storageBytes()));
                offset += align(slot.bytes());
            }
        }
        collected.clear();
    }

    /** Copies the host tensor {@code t} to its device location, converting to the storage type. */
    void upload(Tensor t, Precision precision, MemorySegment ctx, MemorySegment stream) {
        MemorySegment dst = device(t);
        if (dst == null) throw new IllegalStateException(t + " is not mapped to the device");
        try (DeviceBuffer staging = precision.storageBytes() != Float.BYTES ? DeviceBuffer.allocate(t.segment().byteSize()) : null) {
            copyConverted(t.segment(), dst, staging, precision, ctx, stream);
        }
    }

    /**
     * fp32 host bytes to {@code dst} in the storage type, on {@code stream} and waited for:
     * straight in fp32, else into {@code staging} (fp32, at least as large) and converted by
     * a kernel on the same stream, so the kernel reads the copy's bytes and nothing older.
     */
    private static void copyConverted(MemorySegment host, MemorySegment dst, DeviceBuffer staging, Precision precision,
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

    /** Takes ownership of {@code b}: freed by {@link #close()}. */
    DeviceBuffer keep(DeviceBuffer b) {
        owned.add(b);
        return b;
    }

    private static long align(long bytes) {
        return (bytes + 255) / 256 * 256;
    }

    @Override
    public void close() {
        for (DeviceBuffer b : owned) b.close();
        owned.clear();
        regions.clear();
        exact.clear();
    }
}
