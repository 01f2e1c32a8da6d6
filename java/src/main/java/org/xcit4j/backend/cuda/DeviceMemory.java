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
 *       256-byte aligned device copy in {@link CudaWeights} (shared by the backends of one
 *       model, converted to the storage type on upload): every weight and bias a kernel or
 *       cuBLASLt reads starts aligned.
 * </ul>
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

    private final TreeMap<Long, Region> regions = new TreeMap<>();
    private final Map<CudaWeights.Span, Region> exact = new HashMap<>();
    private final Set<CudaWeights.Span> collected = new LinkedHashSet<>();
    private final List<DeviceBuffer> owned = new ArrayList<>();

    /** Maps every tensor inside {@code host} into {@code device}, stored with {@code storageBytes} per element. */
    void mirror(MemorySegment host, DeviceBuffer device, int storageBytes) {
        regions.put(host.address(), new Region(host.address(), host.byteSize(), device.address().address(), storageBytes));
    }

    /** Maps exactly {@code t} (same address and size) to the fp32 buffer {@code device}, before any region. */
    void pin(Tensor t, DeviceBuffer device) {
        MemorySegment s = t.segment();
        exact.put(span(t), new Region(s.address(), s.byteSize(), device.address().address(), Float.BYTES));
    }

    /** The device address of {@code t}, or null if it is not on the device (yet). */
    MemorySegment device(Tensor t) {
        Region e = exact.get(span(t));
        if (e != null) return MemorySegment.ofAddress(e.device());
        long address = t.segment().address(), bytes = t.segment().byteSize();
        Map.Entry<Long, Region> r = regions.floorEntry(address);
        return r != null && r.getValue().contains(address, bytes) ? MemorySegment.ofAddress(r.getValue().map(address)) : null;
    }

    /** Records a host tensor the dry run met that is not mapped: a weight. */
    void collect(Tensor t) {
        collected.add(span(t));
    }

    /**
     * Maps every collected weight to its device copy in {@code weights} (uploaded there the
     * first time any backend sharing them asks), each 256-byte aligned; views of one host
     * tensor have copies of their own.
     */
    void uploadWeights(CudaWeights weights, MemorySegment ctx, MemorySegment stream) {
        for (CudaWeights.Span w : collected) {
            MemorySegment device = weights.upload(w, ctx, stream);
            exact.put(w, new Region(w.address(), w.bytes(), device.address(), weights.precision().storageBytes()));
        }
        collected.clear();
    }

    /** Copies the host tensor {@code t} to its device location, converting to the storage type. */
    void upload(Tensor t, Precision precision, MemorySegment ctx, MemorySegment stream) {
        MemorySegment dst = device(t);
        if (dst == null) throw new IllegalStateException(t + " is not mapped to the device");
        try (DeviceBuffer staging = precision.storageBytes() != Float.BYTES ? DeviceBuffer.allocate(t.segment().byteSize()) : null) {
            CudaWeights.copyConverted(t.segment(), dst, staging, precision, ctx, stream);
        }
    }

    private static CudaWeights.Span span(Tensor t) {
        return new CudaWeights.Span(t.segment().address(), t.segment().byteSize());
    }

    /** Takes ownership of {@code b}: freed by {@link #close()}. */
    DeviceBuffer keep(DeviceBuffer b) {
        owned.add(b);
        return b;
    }

    @Override
    public void close() {
        for (DeviceBuffer b : owned) b.close();
        owned.clear();
        regions.clear();
        exact.clear();
    }
}
