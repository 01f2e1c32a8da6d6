package org.xcit4j.bindings;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.xcit4j.bindings.xcit.xcit_h;

/**
 * Finds, loads and version-checks the xcit native libraries for the generated bindings.
 *
 * <p>Where a library comes from: the directory named by {@code -Dxcit.native.dir} if set
 * (for native development: no fallback, so a wrong directory is an error, not a silent
 * switch to the jar's copy); otherwise the jar's resource
 * {@code /org/xcit4j/natives/linux-x86_64/lib<name>.so}, extracted once to
 * {@code ${java.io.tmpdir}/xcit4j-${user.name}/<sha-256 of the content>/}. A content-keyed
 * directory means two builds never overwrite each other's file while loaded, and writing
 * to a temporary file that is then atomically renamed means concurrent JVMs see either
 * no file or a complete one.
 *
 * <p>That cache sits in a shared directory where another user may have prepared it, so
 * every load checks it (see {@link #extract}) and falls back to a private copy when it
 * fails; every library is hashed and loaded through the same file descriptor
 * ({@link PrivateFiles}), so no one can swap the file between the check and dlopen.
 *
 * <p>Each library is loaded at most once per JVM (into {@link Arena#global()}: never
 * unloaded); a failure is remembered too, and each later call throws a fresh
 * {@link NativeLibraryException} with the same message. Thread-safe.
 *
 * <p>The bindings module is the library's native layer: public for the library's packages
 * ({@code org.xcit4j.backend.*}), not API.
 */
public final class NativeLibraries {
    /** libxcit.so: status, context, CPU ops (native/include/xcit/xcit.h). */
    public static final String XCIT = "xcit";
    /** libxcit_cuda.so: CUDA ops (native/include/xcit/xcit_cuda.h); absent in builds without nvcc. */
    public static final String XCIT_CUDA = "xcit_cuda";
    /**
     * libdnnl.so.3 (oneDNN 3.x, the CPU GEMMs) with its libgomp.so.1, both from the
     * {@code org.bytedeco:dnnl} jar (classifier linux-x86_64) on the class path.
     */
    public static final String DNNL = "dnnl";
    /** Every library the jar may carry, for {@link #describe()}. */
    public static final List<String> NAMES = List.of(XCIT, XCIT_CUDA, DNNL);
    /** Where the bytedeco jar keeps its native files. */
    static final String DNNL_RESOURCES = "/org/bytedeco/dnnl/linux-x86_64/";
    /** The oneDNN major version the dnnl_h bindings were written for. */
    public static final int DNNL_MAJOR = 3;
    /** System property naming a directory to load libraries from instead of the jar. */
    public static final String NATIVE_DIR_PROPERTY = "xcit.native.dir";
    /**
     * System property that, when {@code true}, makes {@link #XCIT_CUDA} the emulated device:
     * libxcit_cuda_emu.so, a host build of libxcit_cuda that also stands in for cudart and
     * cuBLASLt ({@link CudaLibraries} then loads nothing of NVIDIA's). For tests and CI;
     * read once per JVM.
     */
    public static final String CUDA_EMULATED_PROPERTY = "xcit.cuda.emulated";
    private static final String XCIT_CUDA_EMU = "xcit_cuda_emu";

    /**
     * A loaded, ABI-checked library.
     *
     * @param path the file the dynamic linker opened
     * @param source where it came from: the system property or the classpath resource
     *
     * @param name the library's name, one of {@link #NAMES}
     * @param abiVersion the ABI version it reported (0 for oneDNN)
     * @param lookup its symbols
     */
    public record Library(String name, Path path, String source, int abiVersion, SymbolLookup lookup) {}

    private record Outcome(Library library, NativeLibraryException failure) {}

    private static final ConcurrentMap<String, Outcome> OUTCOMES = new ConcurrentHashMap<>();

    private NativeLibraries() {}

    /**
     * Loads {@code name} (once) or throws why it cannot; {@code name} is one of {@link #NAMES}.
     *
     * @param name one of {@link #NAMES}
     * @return the library
     * @throws NativeLibraryException saying why it cannot be loaded
     */
    public static Library load(String name) {
        if (!NAMES.contains(name)) {
            throw new IllegalArgumentException("unknown native library '" + name + "'; known: " + NAMES);
        }
        Outcome outcome = OUTCOMES.computeIfAbsent(name, NativeLibraries::attempt);
        if (outcome.failure() != null) {
            throw new NativeLibraryException(outcome.failure().getMessage(), outcome.failure());
        }
        return outcome.library();
    }

    /**
     * The symbols of {@code name}, for the generated bindings; throws like {@link #load}.
     *
     * @param name one of {@link #NAMES}
     * @return its symbols
     */
    public static SymbolLookup require(String name) {
        return load(name).lookup();
    }

    /**
     * Whether {@code name} loads; the reason it does not is in {@link #describe(String)}.
     *
     * @param name one of {@link #NAMES}
     * @return true if it loads
     */
    public static boolean isAvailable(String name) {
        try {
            load(name);
            return true;
        } catch (NativeLibraryException e) {
            return false;
        }
    }

    /**
     * One line for {@code xcit info}: the path loaded and from where, or why not.
     *
     * @param name one of {@link #NAMES}
     * @return the line
     */
    public static String describe(String name) {
        try {
            Library lib = load(name);
            return name + ": " + lib.path() + " (ABI " + lib.abiVersion() + ", from " + lib.source() + ")";
        } catch (NativeLibraryException e) {
            return name + ": not available: " + e.getMessage();
        }
    }

    /**
     * Whether this JVM runs CUDA on the emulated device ({@link #CUDA_EMULATED_PROPERTY}).
     *
     * @return true under -Dxcit.cuda.emulated=true
     */
    public static boolean cudaEmulated() {
        return Emulation.ENABLED;
    }

    /** Read on first use (class initialisation), then fixed for the JVM's life. */
    private static final class Emulation {
        static final boolean ENABLED = Boolean.getBoolean(CUDA_EMULATED_PROPERTY);
    }

    /**
     * {@link #describe(String)} for every library in {@link #NAMES}.
     *
     * @return one line per library
     */
    public static List<String> describe() {
        return NAMES.stream().map(NativeLibraries::describe).toList();
    }

    private static Outcome attempt(String name) {
        try {
            if (name.equals(DNNL)) return new Outcome(loadDnnl(defaultCacheRoot()), null);
            // libxcit uses OpenMP; with oneDNN's own libgomp loaded first, both share one
            // runtime (the dynamic linker matches libgomp.so.1 by soname), so their thread
            // teams never compete. Without the dnnl jar the system's libgomp serves both.
            if (name.equals(XCIT)) preloadBundledOpenMp(defaultCacheRoot());
            // libxcit_cuda needs the shared CUDA runtime (libcudart.so.<major>, by soname),
            // the one cudart_h calls: loading it first through CudaLibraries (which also
            // looks in $CUDA_HOME/lib64 and /usr/local/cuda/lib64) makes the dynamic
            // linker reuse that copy, so the process has one runtime. Where it is absent,
            // the load below fails with the dynamic linker's reason, naming libcudart.
            // The emulated device needs neither: it is its own runtime.
            boolean emulated = name.equals(XCIT_CUDA) && cudaEmulated();
            if (name.equals(XCIT_CUDA) && !emulated) CudaLibraries.isAvailable(CudaLibraries.CUDART);
            String dir = System.getProperty(NATIVE_DIR_PROPERTY);
            Path overrideDir = dir == null || dir.isBlank() ? null : Path.of(dir);
            return new Outcome(loadFrom(name, emulated ? XCIT_CUDA_EMU : name, overrideDir, defaultCacheRoot()), null);
        } catch (NativeLibraryException e) {
            return new Outcome(null, e);
        }
    }

    /** The loading steps without the per-JVM cache or system properties (tests call this). */
    static Library loadFrom(String name, Path overrideDir, Path cacheRoot) {
        return loadFrom(name, name, overrideDir, cacheRoot);
    }

    /** Library {@code name} from the file lib{@code fileStem}.so (the emulated device stands in for xcit_cuda). */
    static Library loadFrom(String name, String fileStem, Path overrideDir, Path cacheRoot) {
        String file = "lib" + fileStem + ".so";
        if (overrideDir != null) {
            Path path = overrideDir.resolve(file);
            String source = "-D" + NATIVE_DIR_PROPERTY + "=" + overrideDir;
            if (!Files.isRegularFile(path)) {
                throw new NativeLibraryException(file + " not found in " + overrideDir + " (named by " + source
                        + "; unset it to use the copy inside the xcit4j-bindings jar)");
            }
            // A directory the user named must still be one no other user can change.
            try (PrivateFiles.OpenFile f = PrivateFiles.openTrusted(path)) {
                SymbolLookup lookup = open(f);
                return new Library(name, path, source, checkAbi(name, path, lookup), lookup);
            } catch (IOException e) {
                throw new NativeLibraryException("refusing to load " + path + " (named by " + source + "): " + e.getMessage(), e);
            }
        }
        String resource = "/org/xcit4j/natives/" + platform() + "/" + file;
        try (Extracted e = extract(name, resource, cacheRoot)) {
            SymbolLookup lookup = open(e.file());
            Path path = e.file().path;
            return new Library(name, path, "classpath resource " + resource + e.note(), checkAbi(name, path, lookup), lookup);
        }
    }

    private static volatile boolean openMpPreloaded;

    /** Loads the dnnl jar's libgomp.so.1 if that jar is on the class path; quiet otherwise. */
    private static synchronized void preloadBundledOpenMp(Path cacheRoot) {
        if (openMpPreloaded || resource(DNNL_RESOURCES + "libgomp.so.1") == null) return;
        try {
            platform();
            try (Extracted e = extract(DNNL, DNNL_RESOURCES + "libgomp.so.1", cacheRoot)) {
                open(e.file());
            }
            openMpPreloaded = true;
        } catch (NativeLibraryException e) {
            // the system libgomp will do; loading oneDNN later reports its own problems
        }
    }

    /**
     * libgomp.so.1 first (libdnnl.so.3 needs it, and once loaded by path the dynamic
     * linker reuses it for that soname), then libdnnl.so.3, whose version must be 3.x.
     */
    static Library loadDnnl(Path cacheRoot) {
        platform();
        String resource = DNNL_RESOURCES + "libdnnl.so.3";
        if (resource(resource) == null) {
            throw new NativeLibraryException("libdnnl.so.3 is not available: classpath resource " + resource
                    + " is absent; the org.bytedeco:dnnl jar (classifier linux-x86_64) must be on the class path");
        }
        preloadBundledOpenMp(cacheRoot);
        Path path;
        SymbolLookup lookup;
        String note;
        try (Extracted e = extract(DNNL, resource, cacheRoot)) {
            path = e.file().path;
            lookup = open(e.file());
            note = e.note();
        }
        MemorySegment fn = lookup.find("dnnl_version").orElseThrow(() -> new NativeLibraryException(
                path + " has no symbol dnnl_version: not oneDNN"));
        int major;
        try {
            var version = (MemorySegment) Linker.nativeLinker().downcallHandle(fn, FunctionDescriptor.of(
                    ADDRESS.withTargetLayout(MemoryLayout.sequenceLayout(3, JAVA_INT)))).invokeExact();
            major = version.getAtIndex(JAVA_INT, 0);
        } catch (Throwable t) {
            throw new NativeLibraryException("calling dnnl_version in " + path + " failed: " + t, t);
        }
        if (major != DNNL_MAJOR) {
            throw new NativeLibraryException(path + " is oneDNN " + major + ".x; the bindings need " + DNNL_MAJOR + ".x");
        }
        return new Library(DNNL, path, "classpath resource " + resource + note, major, lookup);
    }

    /** The jar's platform folder; other platforms must build native/ and use the property. */
    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (os.startsWith("linux") && (arch.equals("amd64") || arch.equals("x86_64"))) {
            return "linux-x86_64";
        }
        throw new NativeLibraryException("the xcit4j-bindings jar carries native libraries for linux-x86_64 only, "
                + "this JVM runs on " + os + "/" + arch + ": build native/ with CMake and point -D"
                + NATIVE_DIR_PROPERTY + " at the output");
    }

    static Path defaultCacheRoot() {
        String user = System.getProperty("user.name", "user").replaceAll("[^A-Za-z0-9._-]", "_");
        return Path.of(System.getProperty("java.io.tmpdir"), "xcit4j-" + user);
    }

    /** A library file opened for loading, and a note on where it came from ("" for the shared cache). */
    record Extracted(PrivateFiles.OpenFile file, String note) implements AutoCloseable {
        @Override
        public void close() {
            file.close();
        }
    }

    /**
     * Opens the resource's copy in {@code cacheRoot/<sha-256>/}, writing it there first unless
     * an identical copy is present. The cache is checked on every load, not only when writing:
     * the root and the content directory must be ours and writable by nobody else (a
     * directory another user prepared could have its file swapped), and the copy must be ours,
     * not group/other writable, and hash right through the descriptor that is then loaded.
     * When the shared cache fails any of this, a fresh private directory (mkdir 0700, random
     * name) gets the copy instead, and is removed once the copy is open.
     */
    static Extracted extract(String name, String resource, Path cacheRoot) {
        String sha;
        try (InputStream in = open(name, resource)) {
            sha = PrivateFiles.sha256(in, null);
        } catch (IOException e) {
            throw new NativeLibraryException("cannot read classpath resource " + resource + ": " + e, e);
        }
        String fileName = resource.substring(resource.lastIndexOf('/') + 1);
        try {
            PrivateFiles.ensurePrivateDirectory(cacheRoot);
            Path dir = cacheRoot.resolve(sha);
            PrivateFiles.ensurePrivateDirectory(dir);
            Path target = dir.resolve(fileName);
            // Re-hashing an existing copy (~1 ms per MB) rejects a truncated or altered file.
            PrivateFiles.OpenFile f = PrivateFiles.openVerified(target, sha);
            if (f == null) f = write(name, resource, sha, target);
            return new Extracted(f, "");
        } catch (IOException shared) {
            return privateCopy(name, resource, sha, fileName, cacheRoot, shared);
        }
    }

    private static Extracted privateCopy(String name, String resource, String sha, String fileName, Path cacheRoot,
                                         IOException why) {
        Path parent = cacheRoot.toAbsolutePath().getParent();
        Path dir = null;
        try {
            dir = PrivateFiles.createFreshPrivateDirectory(parent, "xcit4j-private-");
            PrivateFiles.OpenFile f = write(name, resource, sha, dir.resolve(fileName));
            return new Extracted(f, " (private copy, removed once loaded: the shared cache " + cacheRoot
                    + " is not used: " + why.getMessage() + ")");
        } catch (IOException e) {
            throw new NativeLibraryException("cannot extract " + resource + ": the shared cache " + cacheRoot
                    + " is not usable (" + why.getMessage() + ") and a private directory in " + parent + " failed too: " + e
                    + " (set -Djava.io.tmpdir to a directory of yours, or -D" + NATIVE_DIR_PROPERTY + ")", e);
        } finally {
            // The open descriptor keeps the file alive for loading; nothing is left in the directory.
            if (dir != null) {
                try {
                    Files.deleteIfExists(dir.resolve(fileName));
                    Files.deleteIfExists(dir);
                } catch (IOException ignored) {
                    // a leftover private directory is harmless
                }
            }
        }
    }

    /** Writes the resource to {@code target} atomically (temporary file, rename) and opens the result. */
    private static PrivateFiles.OpenFile write(String name, String resource, String sha, Path target) throws IOException {
        Path tmp = Files.createTempFile(target.getParent(), target.getFileName() + ".", ".tmp");
        try {
            String written;
            try (InputStream in = open(name, resource); var out = Files.newOutputStream(tmp)) {
                written = PrivateFiles.sha256(in, out);
            }
            if (!written.equals(sha)) throw new IOException("resource changed while being extracted");
            // rename(2): atomic, replaces a stale copy; a JVM that mapped it keeps its inode.
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        PrivateFiles.OpenFile f = PrivateFiles.openVerified(target, sha);
        if (f == null) throw new IOException(target + " changed between being written and being opened");
        return f;
    }

    /**
     * A resource by its absolute name, through the class loader: on the module path
     * Class.getResource would search this module only, and oneDNN's libraries are in another
     * jar (its folders are no package, so no module encapsulates them).
     */
    private static URL resource(String absolute) {
        return loader().getResource(absolute.substring(1));
    }

    private static ClassLoader loader() {
        ClassLoader l = NativeLibraries.class.getClassLoader();
        return l != null ? l : ClassLoader.getSystemClassLoader();
    }

    private static InputStream open(String name, String resource) throws IOException {
        InputStream in = loader().getResourceAsStream(resource.substring(1));
        if (in == null) throw new NativeLibraryException(absentMessage(name, resource));
        return in;
    }

    private static String absentMessage(String name, String resource) {
        String why = name.equals(XCIT_CUDA)
                ? "this build has no CUDA library: its native build found no CUDA compiler (nvcc), so it was "
                        + "built without CUDA (CPU inference is unaffected)"
                : "the native build step did not run for this jar (bindings/ runs CMake in generate-resources, "
                        + "which needs cmake and a C compiler)";
        return "lib" + name + ".so is not available: classpath resource " + resource + " is absent; " + why
                + "; or point -D" + NATIVE_DIR_PROPERTY + " at a directory holding lib" + name + ".so";
    }

    /** dlopen through the descriptor: the bytes loaded are the bytes checked. */
    private static SymbolLookup open(PrivateFiles.OpenFile f) {
        try {
            return f.load();
        } catch (IllegalArgumentException e) {
            String reason = dlerror(f.procPath());
            throw new NativeLibraryException("cannot load " + f.path + ": "
                    + (reason != null ? reason.replace(f.procPath(), f.path.toString()) : e.getMessage()), e);
        }
    }

    /**
     * The dynamic linker's own explanation (missing dependency, wrong ELF class, noexec
     * mount, undefined symbol), which libraryLookup's exception omits: dlopen the file
     * again through libc and read dlerror(). Null if that cannot be had.
     */
    private static String dlerror(String path) {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        var dlopen = libc.find("dlopen");
        var dlerror = libc.find("dlerror");
        var dlclose = libc.find("dlclose");
        if (dlopen.isEmpty() || dlerror.isEmpty() || dlclose.isEmpty()) {
            return null;
        }
        final int rtldNow = 2;
        var cString = ADDRESS.withTargetLayout(MemoryLayout.sequenceLayout(Long.MAX_VALUE, JAVA_BYTE));
        try (Arena arena = Arena.ofConfined()) {
            MethodHandle open = linker.downcallHandle(dlopen.get(), FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
            MemorySegment handle = (MemorySegment) open.invokeExact(arena.allocateFrom(path), rtldNow);
            if (!handle.equals(MemorySegment.NULL)) {
                MethodHandle close = linker.downcallHandle(dlclose.get(), FunctionDescriptor.of(JAVA_INT, ADDRESS));
                int ignored = (int) close.invokeExact(handle);
                return null;
            }
            MethodHandle error = linker.downcallHandle(dlerror.get(), FunctionDescriptor.of(cString));
            MemorySegment text = (MemorySegment) error.invokeExact();
            return text.equals(MemorySegment.NULL) ? null : text.getString(0);
        } catch (Throwable t) {
            return null;
        }
    }

    /** Calls {@code <name>_abi_version()} and refuses a library built for another ABI. */
    static int checkAbi(String name, Path path, SymbolLookup lookup) {
        String symbol = name + "_abi_version";
        MemorySegment fn = lookup.find(symbol).orElseThrow(() -> new NativeLibraryException(
                path + " has no symbol " + symbol + ": not an xcit library, or one too old to report its ABI"));
        int reported;
        try {
            reported = (int) Linker.nativeLinker().downcallHandle(fn, FunctionDescriptor.of(JAVA_INT)).invokeExact();
        } catch (Throwable t) {
            throw new NativeLibraryException("calling " + symbol + " in " + path + " failed: " + t, t);
        }
        requireAbi(path, reported, xcit_h.XCIT_ABI_VERSION());
        return reported;
    }

    static void requireAbi(Path path, int reported, int expected) {
        if (reported != expected) {
            throw new NativeLibraryException(path + " reports C ABI version " + reported
                    + ", but these bindings were generated for ABI version " + expected
                    + ": the jar and the native library come from different builds (rebuild both, or fix -D"
                    + NATIVE_DIR_PROPERTY + ")");
        }
    }

}
