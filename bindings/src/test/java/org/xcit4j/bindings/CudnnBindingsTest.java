package org.xcit4j.bindings;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.xcit4j.bindings.cuda.cudnn_h;

/**
 * cuDNN 9's backend API through {@code cudnn_h}, on any machine: libcudnn.so.9 loads and
 * builds descriptors without a GPU (only a handle, heuristics on a device and execution need
 * one). Finalizing a descriptor makes the real library check every attribute's type and
 * element count as the bindings pass them, which the header comparison cannot. The build
 * takes the library from the nvidia_cudnn_cu13 wheel (bindings/nvidia-headers.sh, property
 * xcit.cudnn.dir); without it the tests are skipped saying why.
 */
class CudnnBindingsTest {

    @BeforeAll
    static void requireLibrary() {
        assumeTrue(CudaLibraries.isAvailable(CudaLibraries.CUDNN), () -> CudaLibraries.describe(CudaLibraries.CUDNN));
    }

    @Test
    void versionIsCudnn9() {
        long version = cudnn_h.cudnnGetVersion();
        assertEquals(9, version / 10000, "cudnnGetVersion " + version);
        assertEquals(version, CudaLibraries.version(CudaLibraries.CUDNN));
        // The wheel the build extracts is 9.24.0.43 (nvidia-headers.sh); a system cuDNN may be another 9.x.
        if (System.getProperty(CudaLibraries.CUDNN_DIR_PROPERTY, "").contains("cudnn-9.24.0.43")
                && CudaLibraries.describe(CudaLibraries.CUDNN).contains("cudnn-9.24.0.43")) {
            assertEquals(92400, version);
        }
        long cudart = cudnn_h.cudnnGetCudartVersion();
        assertTrue(cudart / 1000 == 12 || cudart / 1000 == 13, "built for CUDA " + cudart);
        assertEquals("CUDNN_STATUS_NOT_SUPPORTED",
                cudnn_h.cudnnGetErrorString(cudnn_h.CUDNN_STATUS_NOT_SUPPORTED()).getString(0));
    }

    /** A descriptor of {@code type}, destroyed when the arena closes. */
    private static MemorySegment create(Arena arena, int type) {
        MemorySegment out = arena.allocate(ADDRESS);
        assertEquals(0, cudnn_h.cudnnBackendCreateDescriptor(type, out), "create " + type);
        MemorySegment desc = out.get(ADDRESS, 0);
        assertNotEquals(0L, desc.address());
        return desc;
    }

    private static void set(MemorySegment desc, int attr, int type, MemorySegment values, long count) {
        int status = cudnn_h.cudnnBackendSetAttribute(desc, attr, type, count, values);
        assertEquals(cudnn_h.CUDNN_STATUS_SUCCESS(), status,
                "set attribute " + attr + ": " + cudnn_h.cudnnGetErrorString(status).getString(0));
    }

    private static void finalize(MemorySegment desc) {
        int status = cudnn_h.cudnnBackendFinalize(desc);
        assertEquals(cudnn_h.CUDNN_STATUS_SUCCESS(), status, "finalize: " + cudnn_h.cudnnGetErrorString(status).getString(0));
    }

    @Test
    void nhwcTensorDescriptorFinalizesAndReadsBack() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment t = create(arena, cudnn_h.CUDNN_BACKEND_TENSOR_DESCRIPTOR());
            try {
                // (N, C, H, W) = (2, 96, 112, 112) laid out channel-last: strides (H*W*C, 1, W*C, C).
                long[] dims = {2, 96, 112, 112}, strides = {112 * 112 * 96, 1, 112 * 96, 96};
                set(t, cudnn_h.CUDNN_ATTR_TENSOR_DATA_TYPE(), cudnn_h.CUDNN_TYPE_DATA_TYPE(),
                        arena.allocateFrom(JAVA_INT, cudnn_h.CUDNN_DATA_BFLOAT16()), 1);
                set(t, cudnn_h.CUDNN_ATTR_TENSOR_DIMENSIONS(), cudnn_h.CUDNN_TYPE_INT64(), arena.allocateFrom(JAVA_LONG, dims), 4);
                set(t, cudnn_h.CUDNN_ATTR_TENSOR_STRIDES(), cudnn_h.CUDNN_TYPE_INT64(), arena.allocateFrom(JAVA_LONG, strides), 4);
                set(t, cudnn_h.CUDNN_ATTR_TENSOR_UNIQUE_ID(), cudnn_h.CUDNN_TYPE_INT64(), arena.allocateFrom(JAVA_LONG, 7L), 1);
                set(t, cudnn_h.CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT(), cudnn_h.CUDNN_TYPE_INT64(), arena.allocateFrom(JAVA_LONG, 16L), 1);
                finalize(t);
                MemorySegment count = arena.allocate(JAVA_LONG), got = arena.allocate(JAVA_LONG, 8);
                assertEquals(0, cudnn_h.cudnnBackendGetAttribute(t, cudnn_h.CUDNN_ATTR_TENSOR_STRIDES(), cudnn_h.CUDNN_TYPE_INT64(),
                        8, count, got));
                assertEquals(4, count.get(JAVA_LONG, 0));
                assertArrayEquals(strides, got.asSlice(0, 4 * 8).toArray(JAVA_LONG));
                assertEquals(0, cudnn_h.cudnnBackendGetAttribute(t, cudnn_h.CUDNN_ATTR_TENSOR_UNIQUE_ID(), cudnn_h.CUDNN_TYPE_INT64(),
                        1, count, got));
                assertEquals(7L, got.get(JAVA_LONG, 0));
            } finally {
                assertEquals(0, cudnn_h.cudnnBackendDestroyDescriptor(t));
            }
        }
    }

    @Test
    void conv3x3s2AndGeluDescriptorsFinalize() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment conv = create(arena, cudnn_h.CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR());
            MemorySegment gelu = create(arena, cudnn_h.CUDNN_BACKEND_POINTWISE_DESCRIPTOR());
            try {
                MemorySegment ones = arena.allocateFrom(JAVA_LONG, 1, 1), twos = arena.allocateFrom(JAVA_LONG, 2, 2);
                set(conv, cudnn_h.CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS(), cudnn_h.CUDNN_TYPE_INT64(), arena.allocateFrom(JAVA_LONG, 2L), 1);
                set(conv, cudnn_h.CUDNN_ATTR_CONVOLUTION_COMP_TYPE(), cudnn_h.CUDNN_TYPE_DATA_TYPE(),
                        arena.allocateFrom(JAVA_INT, cudnn_h.CUDNN_DATA_FLOAT()), 1);
                set(conv, cudnn_h.CUDNN_ATTR_CONVOLUTION_CONV_MODE(), cudnn_h.CUDNN_TYPE_CONVOLUTION_MODE(),
                        arena.allocateFrom(JAVA_INT, cudnn_h.CUDNN_CROSS_CORRELATION()), 1);
                set(conv, cudnn_h.CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES(), cudnn_h.CUDNN_TYPE_INT64(), twos, 2);
                set(conv, cudnn_h.CUDNN_ATTR_CONVOLUTION_DILATIONS(), cudnn_h.CUDNN_TYPE_INT64(), ones, 2);
                set(conv, cudnn_h.CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS(), cudnn_h.CUDNN_TYPE_INT64(), ones, 2);
                set(conv, cudnn_h.CUDNN_ATTR_CONVOLUTION_POST_PADDINGS(), cudnn_h.CUDNN_TYPE_INT64(), ones, 2);
                finalize(conv);
                set(gelu, cudnn_h.CUDNN_ATTR_POINTWISE_MODE(), cudnn_h.CUDNN_TYPE_POINTWISE_MODE(),
                        arena.allocateFrom(JAVA_INT, cudnn_h.CUDNN_POINTWISE_GELU_FWD()), 1);
                set(gelu, cudnn_h.CUDNN_ATTR_POINTWISE_MATH_PREC(), cudnn_h.CUDNN_TYPE_DATA_TYPE(),
                        arena.allocateFrom(JAVA_INT, cudnn_h.CUDNN_DATA_FLOAT()), 1);
                finalize(gelu);
            } finally {
                assertEquals(0, cudnn_h.cudnnBackendDestroyDescriptor(gelu));
                assertEquals(0, cudnn_h.cudnnBackendDestroyDescriptor(conv));
            }
        }
    }

    @Test
    void aWrongAttributeTypeIsRefusedWithAStatus() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment t = create(arena, cudnn_h.CUDNN_BACKEND_TENSOR_DESCRIPTOR());
            try {
                // Dimensions are INT64: the library must refuse them passed as a FLOAT array.
                int status = cudnn_h.cudnnBackendSetAttribute(t, cudnn_h.CUDNN_ATTR_TENSOR_DIMENSIONS(), cudnn_h.CUDNN_TYPE_FLOAT(),
                        4, arena.allocate(JAVA_LONG, 4));
                assertNotEquals(cudnn_h.CUDNN_STATUS_SUCCESS(), status);
                assertEquals(cudnn_h.CUDNN_STATUS_BAD_PARAM(), status / 1000 * 1000,
                        cudnn_h.cudnnGetErrorString(status).getString(0));
            } finally {
                assertEquals(0, cudnn_h.cudnnBackendDestroyDescriptor(t));
            }
        }
    }
}
