package org.xcit4j.backend;

import java.util.function.Consumer;
import org.xcit4j.backend.cuda.Cuda;
import org.xcit4j.backend.cuda.Precision;

/**
 * Opens the backend for a {@link Device}. {@code auto} prefers CUDA, then native CPU, then
 * the Java reference, and reports its choice and why the better ones were passed over.
 */
public final class Backends {
    private Backends() {
    }

    /** Opens {@code device} (CUDA in fp32); {@code notes} receives one line when auto had to fall back. */
    public static Backend open(Device device, Consumer<String> notes) {
        return open(device, Precision.FP32, notes);
    }

    /** Like {@link #open(Device, Consumer)}; {@code precision} applies to CUDA only. */
    public static Backend open(Device device, Precision precision, Consumer<String> notes) {
        return switch (device) {
            case JAVA -> new JavaBackend();
            case CPU -> throw new DeviceUnavailableException("device 'cpu' is not available: " + cpuUnavailableReason());
            case CUDA -> CudaBackend.open(precision, notes);
            case AUTO -> {
                String cuda = cudaUnavailableReason();
                if (cuda == null) {
                    try {
                        yield CudaBackend.open(precision, notes);
                    } catch (RuntimeException e) {
                        cuda = "it failed to open: " + e.getMessage();
                    }
                }
                notes.accept("device auto: using java (cuda: " + cuda + "; cpu: " + cpuUnavailableReason() + ")");
                yield new JavaBackend();
            }
        };
    }

    /** Why the native CPU backend cannot be used. */
    public static String cpuUnavailableReason() {
        return "the native CPU backend is not part of this version yet (only its LayerNorm kernel is); use --device java";
    }

    /**
     * Why the CUDA backend cannot be used, or null if it can: the first missing piece of
     * driver, CUDA runtime, libxcit_cuda, driver version and device (see {@link Cuda#probe()}).
     */
    public static String cudaUnavailableReason() {
        Cuda.Probe p = Cuda.probe();
        return p.available() ? null : p.reason();
    }

    /** One line for {@code xcit info}: the device CUDA would use, or why it cannot. */
    public static String cudaStatus() {
        Cuda.Probe p = Cuda.probe();
        return p.available()
                ? p.device() + ", CUDA runtime " + Cuda.version(p.runtimeVersion()) + ", driver " + Cuda.version(p.driverVersion())
                : "not available: " + p.reason();
    }
}
