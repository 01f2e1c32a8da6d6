package org.xcit4j.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.xcit4j.bindings.cuda.cublasLt_h;
import org.xcit4j.bindings.cuda.cudart_h;
import org.xcit4j.bindings.cuda.cudnn_h;
import org.xcit4j.bindings.xcit.xcit_cuda_h;
import org.xcit4j.bindings.xcit.xcit_h;

/**
 * The checked-in bindings are the source of truth only while they match the headers
 * (jextract cannot run here): same functions, same parameter and return types, same
 * constants, and every declared symbol resolves in the library (built by this module for
 * xcit; the user's installation for NVIDIA's, where one is present, else skipped saying so).
 */
class BindingsMatchHeaderTest {

    /** Where the stand-ins for NVIDIA's headers live (the bindings module's include/). */
    static Path nvidiaHeader(String name) {
        return Path.of(System.getProperty("xcit.bindings.include", "include")).resolve(name);
    }

    static Stream<Arguments> headers() {
        return Stream.of(
                Arguments.of("xcit/xcit.h", HeaderPrototypes.includeDir().resolve("xcit/xcit.h"), xcit_h.class,
                        (Supplier<SymbolLookup>) () -> NativeLibraries.require(NativeLibraries.XCIT),
                        (Supplier<String>) () -> NativeLibraries.describe(NativeLibraries.XCIT)),
                Arguments.of("xcit/xcit_cuda.h", HeaderPrototypes.includeDir().resolve("xcit/xcit_cuda.h"), xcit_cuda_h.class,
                        (Supplier<SymbolLookup>) () -> NativeLibraries.require(NativeLibraries.XCIT_CUDA),
                        (Supplier<String>) () -> NativeLibraries.describe(NativeLibraries.XCIT_CUDA)),
                Arguments.of("cudart_subset.h", nvidiaHeader("cudart_subset.h"), cudart_h.class,
                        (Supplier<SymbolLookup>) () -> CudaLibraries.require(CudaLibraries.CUDART),
                        (Supplier<String>) () -> CudaLibraries.describe(CudaLibraries.CUDART)),
                Arguments.of("cublasLt_subset.h", nvidiaHeader("cublasLt_subset.h"), cublasLt_h.class,
                        (Supplier<SymbolLookup>) () -> CudaLibraries.require(CudaLibraries.CUBLASLT),
                        (Supplier<String>) () -> CudaLibraries.describe(CudaLibraries.CUBLASLT)),
                Arguments.of("cudnn_subset.h", nvidiaHeader("cudnn_subset.h"), cudnn_h.class,
                        (Supplier<SymbolLookup>) () -> CudaLibraries.require(CudaLibraries.CUDNN),
                        (Supplier<String>) () -> CudaLibraries.describe(CudaLibraries.CUDNN)));
    }

    /** name -> DESC of every jextract holder class (a nested class with a static DESC). */
    private static Map<String, Field> holders(Class<?> bindings) throws NoSuchFieldException {
        Map<String, Field> holders = new TreeMap<>();
        for (Class<?> nested : bindings.getDeclaredClasses()) {
            for (Field field : nested.getDeclaredFields()) {
                if (field.getName().equals("DESC") && Modifier.isStatic(field.getModifiers())) {
                    field.setAccessible(true);
                    holders.put(nested.getSimpleName(), field);
                }
            }
        }
        return holders;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("headers")
    void sameFunctionsAndTypesAsTheHeader(String header, Path file, Class<?> bindings, Supplier<SymbolLookup> library,
                                          Supplier<String> describe) throws Exception {
        HeaderPrototypes declared = HeaderPrototypes.parse(file);
        Map<String, Field> holders = holders(bindings);
        assertFalse(declared.functions().isEmpty(), "no prototypes parsed from " + header);
        assertEquals(new TreeMap<>(declared.functions()).keySet(), holders.keySet(),
                bindings.getSimpleName() + " and " + header + " declare different functions");
        SymbolLookup lookup;
        try {
            lookup = library.get();
        } catch (NativeLibraryException e) {
            // The names matched above; types need the holders, which bind the symbols.
            assumeTrue(false, describe.get());
            return;
        }
        for (var prototype : declared.functions().values()) {
            String name = prototype.name();
            // Resolve first: reading DESC initialises the holder, which also binds HANDLE.
            assertTrue(lookup.find(name).isPresent(), name + " does not resolve in " + describe.get());
            FunctionDescriptor desc = (FunctionDescriptor) holders.get(name).get(null);
            List<MemoryLayout> args = desc.argumentLayouts();
            assertEquals(prototype.parameters().size(), args.size(), name + ": arity");
            MethodHandle handle = (MethodHandle) bindings.getMethod(name + "$handle").invoke(null);
            assertEquals(prototype.parameters(), handle.type().parameterList(), name + ": parameter types");
            assertEquals(prototype.returns(), handle.type().returnType(), name + ": return type");
            assertEquals(desc.toMethodType(), handle.type(), name + ": DESC vs HANDLE");
        }
    }

    /** The stand-ins and the NVIDIA headers they stand in for. */
    static Stream<Arguments> nvidiaHeaders() {
        Path cuda = Path.of(System.getProperty("xcit.cuda.include",
                System.getenv("CUDA_HOME") != null ? System.getenv("CUDA_HOME") + "/include" : "/usr/local/cuda/include"));
        Path cublas = Path.of(System.getProperty("xcit.nvidia.include", "target/nvidia-include"));
        return Stream.of(
                Arguments.of("cudart_subset.h", List.of(cuda.resolve("cuda_runtime_api.h"), cuda.resolve("driver_types.h"),
                        cuda.resolve("library_types.h"))),
                Arguments.of("cublasLt_subset.h", List.of(cublas.resolve("cublasLt.h"), cublas.resolve("cublas_api.h"),
                        cuda.resolve("library_types.h"), cuda.resolve("driver_types.h"))),
                Arguments.of("cudnn_subset.h", List.of(cublas.resolve("cudnn_graph.h"), cublas.resolve("cudnn_version.h"),
                        cuda.resolve("library_types.h"), cuda.resolve("driver_types.h"))));
    }

    /**
     * Every function of a stand-in has the same parameters and result (as carriers) in
     * NVIDIA's header, and every constant the same value: the stand-ins were written by hand.
     * NVIDIA's headers come from the CUDA toolkit and from the nvidia_cublas and
     * nvidia_cudnn_cu13 wheels on the local pip index (bindings/nvidia-headers.sh, run by the build); without them the check
     * is skipped, naming the missing file.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("nvidiaHeaders")
    void standInsMatchNvidiasHeaders(String subset, List<Path> real) throws Exception {
        for (Path p : real) assumeTrue(java.nio.file.Files.isRegularFile(p), () -> "NVIDIA's header " + p + " is not here");
        HeaderPrototypes ours = HeaderPrototypes.parse(nvidiaHeader(subset));
        NvidiaHeaders theirs = NvidiaHeaders.read(real);
        for (HeaderPrototypes.Prototype f : ours.functions().values()) {
            assertEquals(f, theirs.function(f.name()), subset + ": " + f.name() + " in " + real);
        }
        for (Map.Entry<String, Integer> c : ours.constants().entrySet()) {
            assertEquals(Long.valueOf(c.getValue()), theirs.constant(c.getKey()), subset + ": " + c.getKey() + " in " + real);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("headers")
    void sameConstantsAsTheHeader(String header, Path file, Class<?> bindings, Supplier<SymbolLookup> library,
                                  Supplier<String> describe) throws Exception {
        HeaderPrototypes declared = HeaderPrototypes.parse(file);
        Map<String, Integer> generated = new TreeMap<>();
        for (Method m : bindings.getDeclaredMethods()) {
            // Constants: static int no-argument methods that are not bound functions.
            if (m.getParameterCount() == 0 && Modifier.isStatic(m.getModifiers()) && m.getReturnType() == int.class
                    && !declared.functions().containsKey(m.getName()) && !m.getName().contains("$")) {
                generated.put(m.getName(), (Integer) m.invoke(null));
            }
        }
        assertEquals(new TreeMap<>(declared.constants()), generated, bindings.getSimpleName() + " vs " + header);
    }
}
