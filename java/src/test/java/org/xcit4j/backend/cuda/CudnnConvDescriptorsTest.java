package org.xcit4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.xcit4j.backend.Precision;
import org.xcit4j.bindings.CudaLibraries;
import org.xcit4j.bindings.NativeLibraries;

/**
 * {@link CudnnConv}'s descriptors in the real libcudnn.so.9, without a GPU: every tensor
 * (channel-last x, y, KRSC filter, bias, fp32 virtual intermediates), the conv descriptor, the
 * conv forward or backward-data operation (which checks y's shape against x, w, stride and
 * padding) and the bias/GELU pointwise operations finalize; only the operation graph, which
 * needs a cuDNN handle (a GPU), is refused, for the NULL handle given. The four
 * patch-embedding stages of xcit_small_12_p16 at 224 and odd sizes (ceil(H/2) outputs), its
 * FPN's transposed convs (14 -> 28 -> 56) and an odd one, every precision. Skipped where
 * cuDNN does not load (the build caches NVIDIA's wheel's copy: bindings/nvidia-headers.sh).
 */
class CudnnConvDescriptorsTest {

    @BeforeAll
    static void requireCudnn() {
        assumeTrue(!NativeLibraries.cudaEmulated(), "cuDNN is never loaded on the emulated device");
        assumeTrue(CudaLibraries.isAvailable(CudaLibraries.CUDNN), () -> CudaLibraries.describe(CudaLibraries.CUDNN));
    }

    static Stream<Arguments> stages() {
        long[][] shapes = {{224, 224, 3, 48}, {112, 112, 48, 96}, {56, 56, 96, 192}, {28, 28, 192, 384}, {37, 51, 3, 24}};
        List<Arguments> out = new ArrayList<>();
        for (Precision p : Precision.values()) {
            for (long[] s : shapes) {
                boolean last = s[3] == 384;
                out.add(Arguments.of(p, new CudnnConv.Key(CudnnConv.Op.CONV3X3S2, 2, s[0], s[1], s[2], s[3], !last,
                        16, 16, 16, 8)));
            }
            for (long[] s : new long[][] {{14, 14, 384, 384}, {28, 28, 384, 384}, {7, 9, 128, 64}}) {
                out.add(Arguments.of(p, new CudnnConv.Key(CudnnConv.Op.CONV_TRANSPOSE2X2, 2, s[0], s[1], s[2], s[3], false,
                        16, 16, 16, 16)));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("stages")
    void everyDescriptorBeforeTheGraphFinalizes(Precision p, CudnnConv.Key key) {
        CudnnConv.CudnnException e = assertThrows(CudnnConv.CudnnException.class, () -> new CudnnConv(MemorySegment.NULL, key, p));
        // The first step that needs a handle: setting it (800 = CUDNN_ATTR_OPERATIONGRAPH_HANDLE) or finalizing the graph.
        assertTrue(e.getMessage().startsWith("cuDNN: finalize OPERATIONGRAPH failed")
                || e.getMessage().startsWith("cuDNN: set attribute 800 failed"), e.getMessage());
    }
}
