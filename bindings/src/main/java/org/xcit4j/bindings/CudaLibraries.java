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
 * {@code org.xcit4j.bindings.cuda}: the CUDA runtime (libcudart), cuBLASLt and cuDNN 9. They
 * come from the user's CUDA installation, never from the jar. Each is tried by soname for
 * CUDA 13 then 12 (the dynamic linker's search path: LD_LIBRARY_PATH, ldconfig), then in
 * {@code $CUDA_HOME/lib64} and {@code /usr/local/cuda/lib64}. cuBLASLt is only taken with
 * the same major version as the runtime found, since mixing them is unsupported. cuDNN is
 * {@code libcudnn.so.9} (its own major version), found the same way plus in
 * {@code -Dxcit.cudnn.dir} and {@code $CUDNN_HOME/lib} (a pip wheel's nvidia/cudnn/lib), and
 * only taken when built for the runtime's CUDA major version.
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
    /** libcudnn (cuDNN 9): the backend (graph) API, {@code cudnn_h}. Optional everywhere. */
    public static final String CUDNN = "cudnn";
    /** A directory holding libcudnn.so.9 and its sub-libraries, tried after the dynamic linker's search. */
    public static final String CUDNN_DIR_PROPERTY = "xcit.cudnn.dir";
    /** cuDNN's major version: the backend API's enums as bound are cuDNN 9's. */
    static final int CUDNN_MAJOR = 9;
    /**
     * cuDNN 9's sub-libraries that libcudnn.so.9 opens by soname from its own directory. One
     * loaded through a descriptor has no directory ({@code $ORIGIN} is /proc/self/fd), so
     * the ones present beside it are loaded first, through the same checks; the dynamic
     * linker then answers cuDNN's dlopen by soname with them. libcudnn_graph is required.
     */
    private static final String[] CUDNN_SUBLIBRARIES = {"cudnn_graph", "cudnn_heuristic", "cudnn_engines_precompiled",
            "cudnn_engines_runtime_compiled", "cudnn_engines_tensor_ir", "cudnn_ops", "cudnn_cnn"};
    /** The oldest CUDA runtime the bindings support (the three-argument cudaGraphInstantiate). */
    public static final int MIN_RUNTIME_VERSION = 12000;
    private static final int[] MAJORS = {13, 12};

    record Outcome(SymbolLookup lookup, Path path, int version, NativeLibraryException failure) {}

    private static final Map<String, Outcome> OUTCOMES = new ConcurrentHashMap<>();

    private CudaLibraries() {}

    /**
     * The symbols of {@code name} ({@link #CUDART}, {@link #CUBLASLT} or {@link #CUDNN}); throws why it cannot load.
     *
     * @param name {@link #CUDART}, {@link #CUBLASLT} or {@link #CUDNN}
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
     * @param name {@link #CUDART}, {@link #CUBLASLT} or {@link #CUDNN}
     * @return true if it loads
     */
    public static boolean isAvailable(String name) {
        return outcome(name).failure() == null;
    }

    /**
     * The library's own version number (cudaRuntimeGetVersion, e.g. 13000; cublasLtGetVersion, e.g. 130001;
     * cudnnGetVersion, e.g. 92400).
     *
     * @param name {@link #CUDART}, {@link #CUBLASLT} or {@link #CUDNN}
     * @return the version
     */
    public static int version(String name) {
        require(name);
        return outcome(name).version();
    }

    /**
     * One line: the file loaded and its version, or why not.
     *
     * @param name {@link #CUDART}, {@link #CUBLASLT} or {@link #CUDNN}
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
            case CUDNN -> OUTCOMES.computeIfAbsent(name, n -> {
                Outcome rt = outcome(CUDART);
                if (rt.failure() != null) {
                    return failed("libcudnn not loaded: it needs the CUDA runtime, which is missing ("
                            + rt.failure().getMessage() + ")");
                }
                Outcome o = attempt(n, new int[] {CUDNN_MAJOR}, System.getenv("CUDA_HOME"));
                if (o.failure() == null && cudnnCudartMajor(o.lookup()) != rt.version() / 1000) {
                    return failed(o.path() + " is built for CUDA " + cudnnCudartMajor(o.lookup()) + ", the runtime loaded is CUDA "
                            + rt.version() / 1000 + ": install the cuDNN 9 built for it (e.g. nvidia-cudnn-cu"
                            + rt.version() / 1000 + ")");
                }
                return o;
            });
            default -> throw new IllegalArgumentException("unknown CUDA library '" + name + "'");
        };
    }

    /**
     * On the emulated device ({@link NativeLibraries#CUDA_EMULATED_PROPERTY}) libxcit_cuda_emu.so
     * stands in for cudart and cuBLASLt: nothing of NVIDIA's is loaded, even where installed.
     */
    private static Outcome emulated(String name) {
        if (name.equals(CUDNN)) {
            // cuDNN's kernels are NVIDIA's binaries: nothing of them runs on the host emulator.
            return failed("cuDNN is not available on the emulated CUDA device (-D" + NativeLibraries.CUDA_EMULATED_PROPERTY
                    + "=true): its kernels are NVIDIA's device code, which the host emulator cannot run");
        }
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
                        if (name.equals(CUDNN)) loadCudnnSublibraries(candidate.getParent());
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
        if (name.equals(CUDNN)) {
            return failed("libcudnn not found (tried " + String.join(", ", tried) + "): install cuDNN 9 for this CUDA"
                    + " (e.g. pip's nvidia-cudnn-cu13), and put its lib directory on LD_LIBRARY_PATH or name it with -D"
                    + CUDNN_DIR_PROPERTY + " or $CUDNN_HOME");
        }
        return failed("lib" + name + " not found (tried " + String.join(", ", tried)
                + "): install the CUDA " + (name.equals(CUDART) ? "runtime" : "cuBLAS library")
                + " 12.x or 13.x, or put its lib64 directory on LD_LIBRARY_PATH or in $CUDA_HOME/lib64");
    }

    /** Loads cuDNN's sub-libraries present in {@code dir}, each through the trusted-file checks. */
    private static void loadCudnnSublibraries(Path dir) throws IOException {
        for (String sub : CUDNN_SUBLIBRARIES) {
            Path file = dir.resolve("lib" + sub + ".so." + CUDNN_MAJOR);
            if (!Files.isRegularFile(file)) {
                if (sub.equals("cudnn_graph")) throw new IOException(file + " is missing beside libcudnn.so." + CUDNN_MAJOR);
                continue;
            }
            try (PrivateFiles.OpenFile f = PrivateFiles.openTrusted(file)) {
                f.load();
            } catch (IllegalArgumentException e) {
                // An engine library that cannot load here (e.g. NVRTC missing for the runtime-compiled
                // engines): cuDNN itself treats those as optional; the graph library is not.
                if (sub.equals("cudnn_graph")) throw new IOException(file + " does not load: " + e.getMessage(), e);
            }
        }
    }

    /** The soname itself (the dynamic linker's search), then the usual installation directories. */
    private static List<Path> candidates(String soname, String home) {
        List<Path> paths = new ArrayList<>();
        paths.add(Path.of(soname));
        if (soname.startsWith("lib" + CUDNN + ".")) {
            String dir = System.getProperty(CUDNN_DIR_PROPERTY);
            if (dir != null && !dir.isBlank()) paths.add(Path.of(dir, soname));
            String cudnnHome = System.getenv("CUDNN_HOME");
            if (cudnnHome != null && !cudnnHome.isBlank()) {
                paths.add(Path.of(cudnnHome, "lib", soname));
                paths.add(Path.of(cudnnHome, "lib64", soname));
            }
        }
        if (home != null && !home.isBlank()) paths.add(Path.of(home, "lib64", soname));
        paths.add(Path.of("/usr/local/cuda/lib64", soname));
        paths.removeIf(p -> p.getParent() != null && !Files.isRegularFile(p));
        return paths;
    }

    /** cudnnGetCudartVersion / 1000: the CUDA major version cuDNN was built for (e.g. 13 for 13000). */
    private static int cudnnCudartMajor(SymbolLookup lookup) {
        try {
            MemorySegment fn = lookup.find("cudnnGetCudartVersion").orElseThrow();
            return (int) ((long) Linker.nativeLinker().downcallHandle(fn, FunctionDescriptor.of(ValueLayout.JAVA_LONG))
                    .invokeExact() / 1000);
        } catch (Throwable t) {
            return -1;
        }
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
            } else if (name.equals(CUDNN)) {
                MemorySegment fn = lookup.find("cudnnGetVersion").orElseThrow();
                version = (int) (long) linker.downcallHandle(fn, FunctionDescriptor.of(ValueLayout.JAVA_LONG)).invokeExact();
                if (version / 10000 != CUDNN_MAJOR) {
                    return failed(path + " is cuDNN " + version + ": xcit4j binds cuDNN " + CUDNN_MAJOR + "'s backend API");
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
