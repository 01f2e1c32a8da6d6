package org.xcit4j.bindings;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds and version-checks NVIDIA's libraries for the bindings in
 * {@code org.xcit4j.bindings.cuda}: the CUDA runtime (libcudart) and cuBLASLt. They come from
 * the user's CUDA installation, never from the jar. Each is tried by soname for CUDA 13
 * then 12 (the dynamic linker's search path: LD_LIBRARY_PATH, ldconfig), then in
 * {@code $CUDA_HOME/lib64} and {@code /usr/local/cuda/lib64}. cuBLASLt is only taken with
 * the same major version as the runtime found, since mixing them is unsupported.
 *
 * <p>Loaded once per JVM; a failure is remembered and every later call throws a fresh
 * {@link NativeLibraryException} naming the library, where it was looked for and why it
 * was refused (absent, too old). Thread-safe.
 *
 * <p>Public for the library's CUDA backend ({@code org.xcit4j.backend.cuda}); not API.
 */
public final class CudaLibraries {
    /** libcudart: the CUDA runtime, {@code cudart_h}. */
    public static final String CUDART = "cudart";
    /** libcublasLt: cuBLAS's matmul library, {@code cublasLt_h}. */
    public static final String CUBLASLT = "cublasLt";
    /** The oldest CUDA runtime the bindings support (the three-argument cudaGraphInstantiate). */
    public static final int MIN_RUNTIME_VERSION = 12000;
    private static final int[] MAJORS = {13, 12};

    record Outcome(SymbolLookup lookup, Path path, int version, NativeLibraryException failure) {}

    private static final Map<String, Outcome> OUTCOMES = new ConcurrentHashMap<>();

    private CudaLibraries() {}

    /**
     * The symbols of {@code name} ({@link #CUDART} or {@link #CUBLASLT}); throws why it cannot load.
     *
     * @param name {@link #CUDART} or {@link #CUBLASLT}
     * @return its symbols
     */
    public static SymbolLookup require(String name) {
        Outcome o = outcome(name);
        if (o.failure() != null) throw new NativeLibraryException(o.failure().getMessage(), o.failure());
        return o.lookup();
    }

    /**
     * Whether a library loads.
     *
     * @param name {@link #CUDART} or {@link #CUBLASLT}
     * @return true if it loads
     */
    public static boolean isAvailable(String name) {
        return outcome(name).failure() == null;
    }

    /**
     * The library's own version number (cudaRuntimeGetVersion, e.g. 13000; cublasLtGetVersion, e.g. 130001).
     *
     * @param name {@link #CUDART} or {@link #CUBLASLT}
     * @return the version
     */
    public static int version(String name) {
        require(name);
        return outcome(name).version();
    }

    /**
     * One line: the file loaded and its version, or why not.
     *
     * @param name {@link #CUDART} or {@link #CUBLASLT}
     * @return the line
     */
    public static String describe(String name) {
        Outcome o = outcome(name);
        return o.failure() != null ? "lib" + name + ": not available: " + o.failure().getMessage()
                : "lib" + name + ": " + o.path() + " (version " + o.version() + ")";
    }

    private static Outcome outcome(String name) {
        if (NativeLibraries.cudaEmulated()) return OUTCOMES.computeIfAbsent(name, CudaLibraries::emulated);
        return switch (name) {
            case CUDART -> OUTCOMES.computeIfAbsent(name, n -> attempt(n, MAJORS, System.getenv("CUDA_HOME")));
            case CUBLASLT -> OUTCOMES.computeIfAbsent(name, n -> {
                Outcome rt = outcome(CUDART);
                if (rt.failure() != null) {
                    return failed("libcublasLt not loaded: it needs the CUDA runtime, which is missing ("
                            + rt.failure().getMessage() + ")");
                }
                return attempt(n, new int[] {rt.version() / 1000}, System.getenv("CUDA_HOME"));
            });
            default -> throw new IllegalArgumentException("unknown CUDA library '" + name + "'");
        };
    }

    /**
     * On the emulated device ({@link NativeLibraries#CUDA_EMULATED_PROPERTY}) libxcit_cuda_emu.so
     * stands in for cudart and cuBLASLt: nothing of NVIDIA's is loaded, even where installed.
     */
    private static Outcome emulated(String name) {
        if (!name.equals(CUDART) && !name.equals(CUBLASLT)) throw new IllegalArgumentException("unknown CUDA library '" + name + "'");
        try {
            NativeLibraries.Library emu = NativeLibraries.load(NativeLibraries.XCIT_CUDA);
            return checked(name, emu.path(), emu.lookup());
        } catch (NativeLibraryException e) {
            return failed("the emulated CUDA device (-D" + NativeLibraries.CUDA_EMULATED_PROPERTY + "=true) is not available: "
                    + e.getMessage());
        }
    }

    private static Outcome failed(String message) {
        return new Outcome(null, null, 0, new NativeLibraryException(message));
    }

    /**
     * Tries each candidate. One found by path is loaded only from a directory no other user
     * can change (ours or root's, not group/other writable: a CUDA_HOME someone else can
     * write would let them put code into this process), through the descriptor checked.
     */
    static Outcome attempt(String name, int[] majors, String cudaHome) {
        List<String> tried = new ArrayList<>();
        for (int major : majors) {
            String soname = "lib" + name + ".so." + major;
            for (Path candidate : candidates(soname, cudaHome)) {
                SymbolLookup lookup;
                if (candidate.getParent() == null) {
                    tried.add(candidate.toString());
                    try {
                        lookup = SymbolLookup.libraryLookup(soname, Arena.global());
                    } catch (IllegalArgumentException e) {
                        continue;
                    }
                } else {
                    try (PrivateFiles.OpenFile f = PrivateFiles.openTrusted(candidate)) {
                        tried.add(candidate.toString());
                        lookup = f.load();
                    } catch (IOException e) {
                        tried.add(candidate + " (refused: " + e.getMessage() + ")");
                        continue;
                    } catch (IllegalArgumentException e) {
                        continue;
                    }
                }
                return checked(name, candidate, lookup);
            }
        }
        return failed("lib" + name + " not found (tried " + String.join(", ", tried)
                + "): install the CUDA " + (name.equals(CUDART) ? "runtime" : "cuBLAS library")
                + " 12.x or 13.x, or put its lib64 directory on LD_LIBRARY_PATH or in $CUDA_HOME/lib64");
    }

    /** The soname itself (the dynamic linker's search), then the usual installation directories. */
    private static List<Path> candidates(String soname, String home) {
        List<Path> paths = new ArrayList<>();
        paths.add(Path.of(soname));
        if (home != null && !home.isBlank()) paths.add(Path.of(home, "lib64", soname));
        paths.add(Path.of("/usr/local/cuda/lib64", soname));
        paths.removeIf(p -> p.getParent() != null && !Files.isRegularFile(p));
        return paths;
    }

    private static Outcome checked(String name, Path path, SymbolLookup lookup) {
        Linker linker = Linker.nativeLinker();
        try {
            int version;
            if (name.equals(CUDART)) {
                MemorySegment fn = lookup.find("cudaRuntimeGetVersion").orElseThrow();
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
                    int err = (int) linker.downcallHandle(fn, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS))
                            .invokeExact(out);
                    if (err != 0) return failed(path + ": cudaRuntimeGetVersion failed with error " + err);
                    version = out.get(ValueLayout.JAVA_INT, 0);
                }
                if (version < MIN_RUNTIME_VERSION) {
                    return failed(path + " is CUDA runtime " + version / 1000 + "." + version % 1000 / 10
                            + ", too old: xcit4j needs 12.0 or newer");
                }
            } else {
                MemorySegment fn = lookup.find("cublasLtGetVersion").orElseThrow();
                version = (int) (long) linker.downcallHandle(fn, FunctionDescriptor.of(ValueLayout.JAVA_LONG)).invokeExact();
            }
            return new Outcome(lookup, path, version, null);
        } catch (java.util.NoSuchElementException e) {
            return failed(path + " lacks its version function: not the NVIDIA library it is named after");
        } catch (Throwable t) {
            return failed("calling the version function of " + path + " failed: " + t);
        }
    }
}
