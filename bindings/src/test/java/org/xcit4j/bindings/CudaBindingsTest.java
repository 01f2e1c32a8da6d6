package org.xcit4j.bindings;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.xcit4j.bindings.xcit.xcit_cuda_h;
import org.xcit4j.bindings.xcit.xcit_h;

/**
 * libxcit_cuda.so through its binding, on any machine: it loads without a driver, and
 * CUDA failures come back as statuses with the runtime's text. The kernel's numbers are
 * checked on GPU machines by native/tests/test_cuda_layernorm.c.
 */
class CudaBindingsTest {

    @BeforeAll
    static void requireLibrary() {
        assumeTrue(NativeLibraries.isAvailable(NativeLibraries.XCIT_CUDA),
                () -> NativeLibraries.describe(NativeLibraries.XCIT_CUDA));
    }

    @Test
    void abiVersion() {
        assertEquals(xcit_h.XCIT_ABI_VERSION(), xcit_cuda_h.xcit_cuda_abi_version());
    }

    @Test
    void invalidArgumentsAreCheckedBeforeAnyCudaCall() {
        try (NativeContext c = new NativeContext()) {
            MemorySegment fake = MemorySegment.ofAddress(0x1000); // never dereferenced
            int status = xcit_cuda_h.xcit_cuda_layernorm_f32(c.ctx, fake, MemorySegment.NULL, fake, fake, 1, 8, 1e-6f);
            assertEquals(xcit_h.XCIT_ERR_INVALID_ARGUMENT(), status, c.lastError());
            assertEquals("xcit_cuda_layernorm_f32: in is NULL", c.lastError());
            // Sizes have no grid limit (launches fold, src/cuda/grid.h); head dims above 64 do.
            status = xcit_cuda_h.xcit_cuda_class_attention_f32(c.ctx, fake, MemorySegment.NULL, fake, fake, 1, 1, 130, 2);
            assertEquals(xcit_h.XCIT_ERR_UNSUPPORTED(), status, c.lastError());
            assertTrue(c.lastError().contains("head dim 65"), c.lastError());
        }
    }

    @Test
    void withoutADeviceCudaErrorsCarryTheRuntimeText() {
        try (Arena arena = Arena.ofConfined(); NativeContext c = new NativeContext()) {
            MemorySegment count = arena.allocate(JAVA_INT);
            int status = xcit_cuda_h.xcit_cuda_device_count(c.ctx, count);
            assumeTrue(status != xcit_h.XCIT_OK() || count.get(JAVA_INT, 0) == 0,
                    "a CUDA device is present; this test is about machines without one");
            assertEquals(0, count.get(JAVA_INT, 0));
            if (status != xcit_h.XCIT_OK()) {
                assertEquals(xcit_h.XCIT_ERR_CUDA(), status);
                assertTrue(c.lastError().startsWith("xcit_cuda_device_count: cudaGetDeviceCount failed: cuda"),
                        c.lastError());
            }
            MemorySegment fake = MemorySegment.ofAddress(0x1000); // the launch fails before any access
            status = xcit_cuda_h.xcit_cuda_layernorm_f32(c.ctx, fake, fake, fake, fake, 4, 8, 1e-6f);
            assertEquals(xcit_h.XCIT_ERR_CUDA(), status, c.lastError());
            assertTrue(c.lastError().contains("kernel launch failed"), c.lastError());
        }
    }

    @Test
    void libxcitCudaAndTheBindingsShareOneCudaRuntime() throws IOException {
        // requireLibrary loaded libxcit_cuda.so, which needs the shared libcudart.so.<major>
        // (native/tests/check_cudart.cmake proves it carries no static copy): the dynamic
        // linker must have reused the runtime CudaLibraries loaded for cudart_h.
        assumeTrue(CudaLibraries.isAvailable(CudaLibraries.CUDART), () -> CudaLibraries.describe(CudaLibraries.CUDART));
        Set<String> mapped = new TreeSet<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            int slash = line.indexOf('/');
            if (slash >= 0 && line.substring(slash).matches(".*/libcudart\\.so[^/]*")) mapped.add(line.substring(slash));
        }
        assertEquals(1, mapped.size(), "libcudart files mapped: " + mapped);
    }
}
