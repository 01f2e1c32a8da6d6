package org.xcit4j.backend;

import java.util.function.Consumer;
import org.xcit4j.backend.cpu.CpuBackend;
import org.xcit4j.backend.cuda.Cuda;
import org.xcit4j.backend.cuda.CudaBackend;
import org.xcit4j.backend.java.JavaBackend;

/**
 * Opens the backend for a {@link Device}. {@code auto} prefers CUDA, then native CPU, then
 * the Java reference, and reports its choice and why the better ones were passed over.
 */
public final class Backends {
    private Backends() {
    }

    /**
     * Opens {@code device} in fp32 with all cores; {@code notes} receives one line saying what auto picked.
     *
     * @param device the device, AUTO to pick
     * @param notes receives what AUTO picked and why
     * @return the backend, which the caller closes
     * @throws DeviceUnavailableException if the device cannot run here
     */
    public static Backend open(Device device, Consumer<String> notes) {
        return open(device, 0, Precision.FP32, notes);
    }

    /**
     * Opens {@code device} with {@code threads} (0 = all cores; the native CPU backend's
     * OpenMP team, ignored by the others) and a precision. A precision the device cannot do
     * is refused with a {@link DeviceUnavailableException}, also under auto: a silent
     * fallback to fp32 would make timings and accuracy lie.
     *
     * @param device the device, AUTO to pick
     * @param threads OpenMP threads of the CPU backend; 0 for all cores
     * @param precision the arithmetic
     * @param notes receives what AUTO picked and why
     * @return the backend, which the caller closes
     * @throws DeviceUnavailableException if the device cannot run here or not in that precision
     */
    public static Backend open(Device device, int threads, Precision precision, Consumer<String> notes) {
        if (precision != Precision.FP32 && device == Device.JAVA) {
            throw new DeviceUnavailableException("precision " + precision
                    + " is not available on device 'java' (the reference is fp32 with double sums); use Device.CPU or Device.CUDA");
        }
        return switch (device) {
            case JAVA -> new JavaBackend();
            case CPU -> openCpu(threads, precision);
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
                try {
                    CpuBackend cpu = new CpuBackend(threads, precision);
                    notes.accept("device auto: using cpu (" + cpu.isa() + ", " + cpu.threads() + " threads, " + precision
                            + "; cuda: " + cuda + ")");
                    yield cpu;
                } catch (RuntimeException | LinkageError e) {
                    if (precision != Precision.FP32) throw e;
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
            throw new DeviceUnavailableException("device 'cpu' is not available: " + e.getMessage() + "; use Device.JAVA");
        }
    }

    /**
     * Why the native CPU backend cannot be used, or null when it can.
     *
     * @return the reason, or null
     */
    public static String cpuUnavailableReason() {
        return CpuBackend.unavailableReason();
    }

    /**
     * Why the CUDA backend cannot be used, or null if it can: the first missing piece of
     * driver, CUDA runtime, libxcit_cuda, driver version and device (see {@link Cuda#probe()}).
     *
     * @return the reason, or null
     */
    public static String cudaUnavailableReason() {
        Cuda.Probe p = Cuda.probe();
        if (p.emulated()) return "only the emulated device is enabled (" + Cuda.EMULATED_SWITCH + "), which auto never picks";
        return p.available() ? null : p.reason();
    }

    /**
     * One line for {@code xcit info}: the device CUDA would use, or why it cannot; the emulated device is never a GPU.
     *
     * @return the line
     */
    public static String cudaStatus() {
        Cuda.Probe p = Cuda.probe();
        if (p.emulated()) {
            return p.available() ? "no GPU: the emulated device (" + Cuda.EMULATED_SWITCH + ", kernels on the host CPU) "
                    + "serves device 'cuda'" : "no GPU; the emulated device is not available: " + p.reason();
        }
        return p.available()
                ? p.device() + ", CUDA runtime " + Cuda.version(p.runtimeVersion()) + ", driver " + Cuda.version(p.driverVersion())
                : "not available: " + p.reason();
    }
}
