package org.xcit4j.serve;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.Backends;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.Precision;
import org.xcit4j.backend.cpu.CpuBackend;
import org.xcit4j.backend.cpu.CpuWeights;
import org.xcit4j.backend.cuda.CudaBackend;
import org.xcit4j.backend.cuda.CudaWeights;
import org.xcit4j.backend.java.JavaBackend;

/**
 * The backends of a {@link Predictor}'s sessions: one per session, so that sessions running
 * on different threads share nothing mutable, while what is derived from the weights is held
 * once per device. On the CPU that is one {@link CpuWeights} (oneDNN-packed weights) for all
 * sessions, each backend with the predictor's per-request thread count. The Java reference
 * reads the model's weights directly. On CUDA each backend has its own stream (one stream per
 * concurrent request), and all share one {@link CudaWeights} (the weights uploaded once).
 */
final class DeviceBackends implements AutoCloseable {
    final Device device;
    final Precision precision;
    /** OpenMP threads per backend (CPU only). */
    final int threads;
    private final CpuWeights cpuWeights;
    private final CudaWeights cudaWeights;
    /** Every backend's notes, each distinct one passed on once (see {@link #once}). */
    private final Consumer<String> notes;

    private DeviceBackends(Device device, Precision precision, int threads, Consumer<String> notes) {
        this.device = device;
        this.precision = precision;
        this.threads = threads;
        this.notes = notes;
        this.cpuWeights = device == Device.CPU ? new CpuWeights() : null;
        this.cudaWeights = device == Device.CUDA ? new CudaWeights(precision) : null;
    }

    /**
     * {@code device} resolved to what runs (AUTO: opened once, as {@link Backends#open} does, with
     * its note), without opening anything for concrete devices.
     */
    static Device resolve(Device device, Precision precision, int threads, Consumer<String> notes) {
        if (device != Device.AUTO) return device;
        try (Backend probe = Backends.open(Device.AUTO, threads, precision, notes)) {
            return switch (probe) {
                case CudaBackend _ -> Device.CUDA;
                case CpuBackend _ -> Device.CPU;
                case JavaBackend _ -> Device.JAVA;
                default -> throw new IllegalStateException("unexpected backend " + probe.name());
            };
        }
    }

    /**
     * {@code notes} passing each distinct note on once: every session opens its own backend,
     * which says again what the first one found (the GPU, cuBLASLt or its absence), while a
     * note only some session's shape gives (cuDNN without a plan for it) is still said.
     */
    static Consumer<String> once(Consumer<String> notes) {
        Set<String> said = ConcurrentHashMap.newKeySet();
        return note -> {
            if (said.add(note)) notes.accept(note);
        };
    }

    /**
     * For a resolved device; the first backend opened checks that it can open. {@code notes}
     * receives every backend's notes: give it {@link #once} (shared with {@link #resolve}).
     */
    static DeviceBackends of(Device device, Precision precision, int threads, Consumer<String> notes) {
        if (device == Device.AUTO) throw new IllegalArgumentException("resolve AUTO first");
        DeviceBackends d = new DeviceBackends(device, precision, threads, notes);
        try {
            d.open().close(); // fails here, at open, if the device cannot run (no library, no bf16)
        } catch (RuntimeException | Error e) {
            d.close();
            throw e;
        }
        return d;
    }

    /** A new backend for one session; the caller closes it after the session. */
    Backend open() {
        return switch (device) {
            case CPU -> new CpuBackend(threads, precision, cpuWeights);
            case CUDA -> CudaBackend.open(precision, notes, cudaWeights);
            case JAVA -> Backends.open(Device.JAVA, threads, precision, notes);
            case AUTO -> throw new IllegalStateException("unresolved device");
        };
    }

    /** Bytes of weights packed (CPU) or uploaded (CUDA) for this device, 0 for the Java reference. */
    long packedWeightBytes() {
        return cpuWeights != null ? cpuWeights.packedBytes() : cudaWeights != null ? cudaWeights.deviceBytes() : 0;
    }

    /** Frees the shared weights (after the last backend using them closes). */
    @Override
    public void close() {
        if (cpuWeights != null) cpuWeights.close();
        if (cudaWeights != null) cudaWeights.close();
    }
}
