package org.xcit4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.xcit4j.backend.cuda.CudaBackendTest.randomInput;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.xcit4j.Approx;
import org.xcit4j.backend.Precision;
import org.xcit4j.backend.java.JavaBackend;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.model.XcitConfig;
import org.xcit4j.tensor.Tensor;

/**
 * The cuDNN switch ({@code -Dxcit.cuda.cudnn=true}, {@link Cudnn}): off by default and then
 * silent; on the emulated device it is refused with a note and changes no bit of the result;
 * on a GPU with cuDNN (-Dxcit.cuda.test.emulated=false) the patch embedding through cuDNN
 * matches the Java reference. The property is set only around opening a backend (read there).
 */
@Tag("cuda")
class CudnnOptInTest {

    @BeforeEach
    void requireDevice() {
        CudaBackendTest.requireCudaDevice();
    }

    private static CudaBackend open(Precision p, boolean cudnn, List<String> notes) {
        String before = System.getProperty(Cudnn.PROPERTY);
        System.setProperty(Cudnn.PROPERTY, Boolean.toString(cudnn));
        try {
            return CudaBackend.open(p, true, null, notes::add);
        } finally {
            if (before == null) System.clearProperty(Cudnn.PROPERTY);
            else System.setProperty(Cudnn.PROPERTY, before);
        }
    }

    @Test
    void offByDefaultAndSilent() {
        assumeTrue(System.getProperty(Cudnn.PROPERTY) == null, "the build set " + Cudnn.PROPERTY);
        List<String> notes = new ArrayList<>();
        try (CudaBackend cuda = CudaBackend.open(Precision.FP32, true, null, notes::add)) {
            assertFalse(cuda.usesCudnn());
            assertTrue(notes.stream().noneMatch(n -> n.contains("cuDNN")), () -> "notes: " + notes);
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = Precision.class, names = {"FP32", "BF16"})
    void onTheEmulatedDeviceCudnnIsRefusedAndChangesNothing(Precision p) {
        assumeTrue(Cuda.probe().emulated(), "about the emulated device");
        XcitConfig cfg = XcitConfig.of(16, 64, 2, 2, 10, true);
        List<String> plain = new ArrayList<>(), asked = new ArrayList<>();
        try (Xcit model = Xcit.random(cfg, 7); Arena arena = Arena.ofConfined();
             CudaBackend without = open(p, false, plain); CudaBackend with = open(p, true, asked)) {
            assertFalse(with.usesCudnn());
            assertTrue(asked.stream().anyMatch(n -> n.contains("cuDNN not used") && n.contains("emulated CUDA device")),
                    () -> "notes: " + asked);
            assertTrue(plain.stream().noneMatch(n -> n.contains("cuDNN")), () -> "notes: " + plain);
            Tensor input = randomInput(arena, 2, 40, 56, 3);
            try (Session a = model.session(without, 2, 40, 56); Session b = model.session(with, 2, 40, 56)) {
                assertArrayEquals(a.run(input).logits().toArray(), b.run(input).logits().toArray());
                assertArrayEquals(a.run(input).tokens().toArray(), b.run(input).tokens().toArray());
            }
        }
    }

    /** GPU only (never run yet): cuDNN's conv -> bias -> GELU against the Java reference. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(Precision.class)
    void onAGpuTheCudnnPatchEmbeddingMatchesTheJavaReference(Precision p) {
        assumeTrue(!Cuda.probe().emulated(), "needs a real GPU");
        XcitConfig cfg = XcitConfig.of(16, 64, 2, 2, 10, true);
        List<String> notes = new ArrayList<>();
        try (Xcit model = Xcit.random(cfg, 7); Arena arena = Arena.ofConfined();
             JavaBackend java = new JavaBackend(); CudaBackend cuda = open(p, true, notes)) {
            assumeTrue(cuda.usesCudnn(), () -> "cuDNN not loaded: " + notes);
            Tensor input = randomInput(arena, 2, 40, 56, 3);
            try (Session ref = model.session(java, 2, 40, 56); Session dev = model.session(cuda, 2, 40, 56)) {
                Session.Outputs want = ref.run(input), got = dev.run(input);
                Approx.assertCloseToMax(p + " logits (notes " + notes + ")", want.logits(), got.logits(), Approx.relToMax(p));
                Approx.assertCloseToMax(p + " tokens", want.tokens(), got.tokens(), Approx.relToMax(p));
            }
        }
    }
}
