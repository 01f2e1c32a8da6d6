package org.xcit4j.backend.cuda;

import static org.xcit4j.bindings.cuda.cudart_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.xcit4j.bindings.CudaLibraries;
import org.xcit4j.bindings.NativeLibraries;
import org.xcit4j.bindings.NativeLibraryException;
import org.xcit4j.bindings.xcit.xcit_cuda_h;

/**
 * The CUDA runtime calls the backend makes (bindings: {@code cudart_h}), each checked and
 * turned into a {@link CudaException} naming the call, and {@link #probe()}, which decides
 * whether CUDA can run here and, if not, says exactly what is missing.
 */
public final class Cuda {
    private Cuda() {
    }

    /** The system property that switches on the emulated device, as a user writes it. */
    public static final String EMULATED_SWITCH = "-D" + NativeLibraries.CUDA_EMULATED_PROPERTY + "=true";

    /**
     * What a machine offers: a usable device, or the one reason it cannot run CUDA.
     * {@code emulated}: the device is libxcit_cuda_emu.so on the host CPU, not a GPU.
     *
     * @param available whether CUDA can run here
     * @param reason why not, or null
     * @param device the GPU's name, or null
     * @param runtimeVersion the CUDA runtime's version (13000 for 13.0), or 0
     * @param driverVersion the driver's CUDA version, or 0
     * @param emulated whether the device is the host emulator
     */
    public record Probe(boolean available, String reason, String device, int runtimeVersion, int driverVersion,
                        boolean emulated) {
        static Probe missing(String reason) {
            return new Probe(false, reason, null, 0, 0, NativeLibraries.cudaEmulated());
        }
    }

    private static volatile Probe probe;

    /**
     * Checks, in order of what a user must fix first: the NVIDIA driver (libcuda.so.1), the
     * CUDA runtime library (libcudart 12/13), libxcit_cuda.so in this build, the driver's
     * CUDA version against the one libxcit_cuda was built with, and a device. Cached.
     *
     * @return what this machine offers
     */
    public static Probe probe() {
        Probe p = probe;
        if (p == null) probe = p = detect();
        return p;
    }

    private static Probe detect() {
        boolean emulated = NativeLibraries.cudaEmulated();
        if (!emulated) {
            try (Arena arena = Arena.ofConfined()) {
                java.lang.foreign.SymbolLookup.libraryLookup("libcuda.so.1", arena);
            } catch (IllegalArgumentException e) {
                return Probe.missing("no NVIDIA driver (libcuda.so.1 cannot be loaded)");
            }
        }
        if (!CudaLibraries.isAvailable(CudaLibraries.CUDART)) return Probe.missing(CudaLibraries.describe(CudaLibraries.CUDART));
        try {
            NativeLibraries.load(NativeLibraries.XCIT_CUDA);
        } catch (NativeLibraryException e) {
            return Probe.missing(e.getMessage());
        }
        int runtime = CudaLibraries.version(CudaLibraries.CUDART);
        int built = xcit_cuda_h.xcit_cuda_runtime_version();
        int driver = intOut(out -> cudaDriverGetVersion(out), "cudaDriverGetVersion");
        int needed = Math.max(runtime, built);
        if (driver < needed) {
            return new Probe(false, "the NVIDIA driver is too old: it supports CUDA " + version(driver) + ", but "
                    + (built >= runtime ? "libxcit_cuda.so was built with CUDA " : "libcudart is CUDA ")
                    + version(needed) + " (update the driver)", null, runtime, driver, emulated);
        }
        int[] count = new int[1];
        int err;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            err = cudaGetDeviceCount(out);
            count[0] = out.get(ValueLayout.JAVA_INT, 0);
        }
        if (err != cudaSuccess() || count[0] == 0) {
            return new Probe(false, "no CUDA device" + (err != cudaSuccess() ? " (" + errorText(err) + ")" : ""), null,
                    runtime, driver, emulated);
        }
        return new Probe(true, null, deviceName(0), runtime, driver, emulated);
    }

    /**
     * "13.0" from 13000.
     *
     * @param v a CUDA version number
     * @return major.minor
     */
    public static String version(int v) {
        return v / 1000 + "." + v % 1000 / 10;
    }

    static String deviceName(int device) {
        try (Arena arena = Arena.ofConfined()) {
            // struct cudaDeviceProp starts with char name[256]; 4 KiB covers the whole struct
            // of every CUDA 12/13 runtime (about 1 KiB).
            MemorySegment prop = arena.allocate(4096, 8);
            check(cudaGetDeviceProperties(prop, device), "cudaGetDeviceProperties");
            int major = intOut(out -> cudaDeviceGetAttribute(out, cudaDevAttrComputeCapabilityMajor(), device), "cudaDeviceGetAttribute");
            int minor = intOut(out -> cudaDeviceGetAttribute(out, cudaDevAttrComputeCapabilityMinor(), device), "cudaDeviceGetAttribute");
            return prop.getString(0) + " (sm_" + major + minor + ")";
        }
    }

    static String errorText(int err) {
        return cudaGetErrorName(err).getString(0) + ": " + cudaGetErrorString(err).getString(0);
    }

    /** Throws unless {@code err} is cudaSuccess. */
    static void check(int err, String call) {
        if (err != cudaSuccess()) throw new CudaException(call + " failed: " + errorText(err));
    }

    interface IntCall {
        int call(MemorySegment out);
    }

    static int intOut(IntCall c, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            check(c.call(out), name);
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    interface PointerCall {
        int call(MemorySegment out);
    }

    /** Calls a function that returns a pointer through its first argument (cudaMalloc, cudaStreamCreate, ...). */
    static MemorySegment pointerOut(PointerCall c, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            check(c.call(out), name);
            return out.get(ValueLayout.ADDRESS, 0);
        }
    }

    static MemorySegment malloc(long bytes) {
        return pointerOut(out -> cudaMalloc(out, Math.max(bytes, 1)), "cudaMalloc(" + bytes + " bytes)");
    }

    /** Page-locked host memory (fast, asynchronous copies), as a host segment of {@code bytes}. */
    static MemorySegment mallocHost(long bytes) {
        return pointerOut(out -> cudaMallocHost(out, Math.max(bytes, 1)), "cudaMallocHost(" + bytes + " bytes)")
                .reinterpret(Math.max(bytes, 1));
    }

    static void copy(MemorySegment dst, MemorySegment src, long bytes, int kind, MemorySegment stream) {
        check(cudaMemcpyAsync(dst, src, bytes, kind, stream), "cudaMemcpyAsync");
    }
}
