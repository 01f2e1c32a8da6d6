package org.xcit4j.backend.cuda;

import org.xcit4j.backend.Precision;
import static org.xcit4j.bindings.cuda.cudart_h.*;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
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
 *   <li>weights, collected during a dry run of the forward, to slices of ONE device
 *       allocation, converted to the storage type on upload.
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
    private final Map<Long, Region> exact = new HashMap<>();
    private final TreeMap<Long, Long> collected = new TreeMap<>();  // host start -> bytes
    private final List<DeviceBuffer> owned = new ArrayList<>();

    /** Maps every tensor inside {@code host} into {@code device}, stored with {@code storageBytes} per element. */
    void mirror(MemorySegment host, DeviceBuffer device, int storageBytes) {
        regions.put(host.address(), new Region(host.address(), host.byteSize(), device.address().address(), storageBytes));
    }

    /** Maps exactly {@code t} (same address and size) to the fp32 buffer {@code device}, before any region. */
    void pin(Tensor t, DeviceBuffer device) {
        MemorySegment s = t.segment();
        exact.put(s.address(), new Region(s.address(), s.byteSize(), device.address().address(), Float.BYTES));
    }

    /** The device address of {@code t}, or null if it is not on the device (yet). */
    MemorySegment device(Tensor t) {
        long address = t.segment().address(), bytes = t.segment().byteSize();
        Region e = exact.get(address);
        if (e != null && e.hostBytes() == bytes) return MemorySegment.ofAddress(e.device());
        Map.Entry<Long, Region> r = regions.floorEntry(address);
        return r != null && r.getValue().contains(address, bytes) ? MemorySegment.ofAddress(r.getValue().map(address)) : null;
    }

    /** Records a host tensor the dry run met that is not mapped: a weight. */
    void collect(Tensor t) {
        collected.merge(t.segment().address(), t.segment().byteSize(), Math::max);
    }

    /**
     * Uploads every collected weight into one device allocation: overlapping host ranges
     * (views of one tensor) are merged first, each range is 256-byte aligned (cuBLASLt's
     * preference). 16-bit storage converts through an fp32 staging buffer on the device.
     */
    void uploadWeights(Precision precision, MemorySegment ctx, MemorySegment stream) {
        List<long[]> ranges = new ArrayList<>();  // {start, bytes}
        for (Map.Entry<Long, Long> c : collected.entrySet()) {
            long[] last = ranges.isEmpty() ? null : ranges.get(ranges.size() - 1);
            if (last != null && c.getKey() < last[0] + last[1]) {
                last[1] = Math.max(last[1], c.getKey() + c.getValue() - last[0]);
            } else {
                ranges.add(new long[] {c.getKey(), c.getValue()});
            }
        }
        collected.clear();
        long total = 0, largest = 0;
        for (long[] r : ranges) {
            total += align(r[1] / Float.BYTES * precision.storageBytes());
            largest = Math.max(largest, r[1]);
        }
        DeviceBuffer block = keep(DeviceBuffer.allocate(total));
        boolean convert = precision.storageBytes() != Float.BYTES;
        try (DeviceBuffer staging = convert ? DeviceBuffer.allocate(largest) : null) {
            long offset = 0;
            for (long[] r : ranges) {
                MemorySegment host = MemorySegment.ofAddress(r[0]).reinterpret(r[1]);
                DeviceBuffer slot = block.slice(offset, r[1] / Float.BYTES * precision.storageBytes());
                if (convert) {
                    Cuda.check(cudaMemcpy(staging.address(), host, r[1], cudaMemcpyHostToDevice()), "cudaMemcpy (weights)");
                    Ops.convert(ctx, slot.address(), CudaTypes.typeCode(precision), staging.address(), 0, r[1] / Float.BYTES);
                    Cuda.check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (weights)");
                } else {
                    slot.copyFrom(host);
                }
                regions.put(r[0], new Region(r[0], r[1], slot.address().address(), precision.storageBytes()));
                offset += align(slot.bytes());
            }
        }
    }

    /** Copies the host tensor {@code t} to its device location, converting to the storage type. */
    void upload(Tensor t, Precision precision, MemorySegment ctx, MemorySegment stream) {
        MemorySegment dst = device(t);
        if (dst == null) throw new IllegalStateException(t + " is not mapped to the device");
        long bytes = t.segment().byteSize();
        if (precision.storageBytes() == Float.BYTES) {
            DeviceBuffer.view(dst, bytes).copyFrom(t.segment());
            return;
        }
        try (DeviceBuffer staging = DeviceBuffer.allocate(bytes)) {
            staging.copyFrom(t.segment());
            Ops.convert(ctx, dst, CudaTypes.typeCode(precision), staging.address(), 0, t.numel());
            Cuda.check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (upload)");
        }
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
