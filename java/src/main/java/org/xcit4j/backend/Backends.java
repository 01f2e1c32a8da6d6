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
        return switch (device) {
            case JAVA -> new JavaBackend();
            case CPU -> throw new DeviceUnavailableException("device 'cpu' is not available: " + cpuUnavailableReason());
            case CUDA -> throw new DeviceUnavailableException("device 'cuda' is not available: " + cudaUnavailableReason());
            case AUTO -> {
                notes.accept("device auto: using java (cuda: " + cudaUnavailableReason() + "; cpu: " + cpuUnavailableReason() + ")");
                yield new JavaBackend();
            }
        };
    }

    /** Why the native CPU backend cannot be used. */
    public static String cpuUnavailableReason() {
        return "the native CPU backend is not part of this version yet (only its LayerNorm kernel is); use --device java";
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
