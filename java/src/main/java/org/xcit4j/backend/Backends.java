package org.xcit4j.backend;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.util.function.Consumer;

/**
 * Opens the backend for a {@link Device}. {@code auto} prefers CUDA, then native CPU, then
 * the Java reference, and reports its choice and why the better ones were passed over.
 */
public final class Backends {
    private Backends() {
    }

    /** Opens {@code device}; {@code notes} receives one line when auto had to fall back. */
    public static Backend open(Device device, Consumer<String> notes) {
        return open(device, 0, Precision.FP32, notes);
    }

    /**
     * Opens {@code device} with {@code threads} (0 = all cores; the native CPU backend's
     * OpenMP team, ignored by the others) and a GEMM precision. BF16 is refused with a
     * {@link DeviceUnavailableException} by backends or CPUs that cannot do it, also under
     * auto: a silent fallback to fp32 would make timings and accuracy lie.
     */
    public static Backend open(Device device, int threads, Precision precision, Consumer<String> notes) {
        if (precision == Precision.BF16 && device == Device.JAVA) {
            throw new DeviceUnavailableException("precision bf16 is not available on device 'java' (the reference is fp32/double); use --device cpu");
        }
        return switch (device) {
            case JAVA -> new JavaBackend();
            case CPU -> openCpu(threads, precision);
            case CUDA -> throw new DeviceUnavailableException("device 'cuda' is not available: " + cudaUnavailableReason());
            case AUTO -> {
                String cuda = cudaUnavailableReason();
                try {
                    CpuBackend cpu = new CpuBackend(threads, precision);
                    notes.accept("device auto: using cpu (" + cpu.isa() + ", " + cpu.threads() + " threads, " + precision
                            + "; cuda: " + cuda + ")");
                    yield cpu;
                } catch (RuntimeException | LinkageError e) {
                    if (precision == Precision.BF16) throw e;
                    notes.accept("device auto: using java (cuda: " + cuda + "; cpu: " + e.getMessage() + ")");
                    yield new JavaBackend();
                }
            }
        };
    }

    private static Backend openCpu(int threads, Precision precision) {
        try {
            return new CpuBackend(threads, precision);
        } catch (DeviceUnavailableException e) {
            throw e;
        } catch (RuntimeException | LinkageError e) {
            throw new DeviceUnavailableException("device 'cpu' is not available: " + e.getMessage() + "; use --device java");
        }
    }

    /** Why the native CPU backend cannot be used, or null when it can. */
    public static String cpuUnavailableReason() {
        return CpuBackend.unavailableReason();
    }

    /** Why the CUDA backend cannot be used: the driver first, since without it nothing else matters. */
    public static String cudaUnavailableReason() {
        if (!loads("libcuda.so.1")) return "no NVIDIA driver (libcuda.so.1 cannot be loaded)";
        return "the CUDA backend is not part of this version yet; use --device java";
    }

    private static boolean loads(String library) {
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup.libraryLookup(library, arena);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
