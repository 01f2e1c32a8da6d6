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
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.xcit4j.bindings.xcit.xcit_cuda_h;
import org.xcit4j.bindings.xcit.xcit_h;

/**
 * The checked-in bindings are the source of truth only while they match the headers
 * (jextract cannot run here): same functions, same parameter and return types, same
 * constants, and every declared symbol resolves in the library built by this module.
 */
class BindingsMatchHeaderTest {

    static Stream<Arguments> headers() {
        return Stream.of(
                Arguments.of("xcit/xcit.h", xcit_h.class, NativeLibraries.XCIT),
                Arguments.of("xcit/xcit_cuda.h", xcit_cuda_h.class, NativeLibraries.XCIT_CUDA));
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
    void sameFunctionsAndTypesAsTheHeader(String header, Class<?> bindings, String library) throws Exception {
        assumeTrue(NativeLibraries.isAvailable(library), () -> NativeLibraries.describe(library));
        HeaderPrototypes declared = HeaderPrototypes.parse(header);
        Map<String, Field> holders = holders(bindings);
        assertFalse(declared.functions().isEmpty(), "no prototypes parsed from " + header);
        assertEquals(new TreeMap<>(declared.functions()).keySet(), holders.keySet(),
                bindings.getSimpleName() + " and " + header + " declare different functions");

        SymbolLookup lookup = NativeLibraries.require(library);
        for (var prototype : declared.functions().values()) {
            String name = prototype.name();
            // Resolve first: reading DESC initialises the holder, which also binds HANDLE.
            assertTrue(lookup.find(name).isPresent(), name + " does not resolve in lib" + library + ".so");
            FunctionDescriptor desc = (FunctionDescriptor) holders.get(name).get(null);
            List<MemoryLayout> args = desc.argumentLayouts();
            assertEquals(prototype.parameters().size(), args.size(), name + ": arity");
            MethodHandle handle = (MethodHandle) bindings.getMethod(name + "$handle").invoke(null);
            assertEquals(prototype.parameters(), handle.type().parameterList(), name + ": parameter types");
            assertEquals(prototype.returns(), handle.type().returnType(), name + ": return type");
            assertEquals(desc.toMethodType(), handle.type(), name + ": DESC vs HANDLE");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("headers")
    void sameConstantsAsTheHeader(String header, Class<?> bindings, String library) throws Exception {
        HeaderPrototypes declared = HeaderPrototypes.parse(header);
        Map<String, Integer> generated = new TreeMap<>();
        for (Method m : bindings.getDeclaredMethods()) {
            if (m.getName().startsWith("XCIT_") && m.getParameterCount() == 0
                    && Modifier.isStatic(m.getModifiers()) && m.getReturnType() == int.class) {
                generated.put(m.getName(), (Integer) m.invoke(null));
            }
        }
        assertEquals(new TreeMap<>(declared.constants()), generated, bindings.getSimpleName() + " vs " + header);
    }
}
