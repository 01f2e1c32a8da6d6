package org.xcit4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.xcit4j.Approx;
import org.xcit4j.backend.Precision;
import org.xcit4j.backend.java.JavaBackend;
import org.xcit4j.model.DenseOptions;
import org.xcit4j.model.DenseSession;
import org.xcit4j.model.ModelZoo;
import org.xcit4j.model.Session;
import org.xcit4j.model.SessionOptions;
import org.xcit4j.model.Xcit;
import org.xcit4j.model.XcitConfig;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * CudaBackend whole (memory mirror, weight upload and conversion, input staging, graph
 * capture and replay, device-resident I/O, cuBLASLt and libxcit_cuda's own GEMM) against
 * the Java reference, in every precision. Runs in every build on the emulated device (the
 * surefire execution "emulated-cuda" sets -Dxcit.cuda.emulated=true); with
 * -Dxcit.cuda.test.emulated=false the same tests run on a real GPU.
 */
@Tag("cuda")
class CudaBackendTest {

    /** Skipped only without a GPU and without the emulated device; the emulated one must work. */
    @BeforeEach
    void requireDevice() {
        requireCudaDevice();
    }

    /** Skips without a GPU and without the emulated device; fails if the emulated one does not open. */
    static void requireCudaDevice() {
        Cuda.Probe p = Cuda.probe();
        if (p.emulated()) assertTrue(p.available(), () -> "the emulated device does not open: " + p.reason());
        assumeTrue(p.available(), () -> "needs a CUDA device: " + p.reason());
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Precision p : Precision.values()) {
            for (boolean cublasLt : new boolean[] {true, false}) {
                // batch 2; p16 at 40 x 56 (not multiples of 16: timm's ceil rule) and p8 at 24 x 24
                out.add(Arguments.of(p, cublasLt, 16, 64, 40, 56));
                out.add(Arguments.of(p, cublasLt, 8, 32, 24, 24));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} cuBLASLt {1} p{2} C{3} {4}x{5}")
    @MethodSource("cases")
    void wholeModelMatchesTheJavaReference(Precision p, boolean cublasLt, int patch, int c, int h, int w) {
        XcitConfig cfg = XcitConfig.of(patch, c, 2, 2, 10, true);
        try (Xcit model = Xcit.random(cfg, 7); Arena arena = Arena.ofConfined();
             JavaBackend java = new JavaBackend(); CudaBackend cuda = CudaBackend.open(p, cublasLt, null, note -> { })) {
            Tensor input = randomInput(arena, 2, h, w, 3);
            try (Session ref = model.session(java, 2, h, w); Session dev = model.session(cuda, 2, h, w)) {
                Session.Outputs want = ref.run(input);
                Session.Outputs got = dev.run(input);
                double tol = tolerance(p);
                Approx.assertCloseToMax(p + " logits", want.logits(), got.logits(), tol);
                Approx.assertCloseToMax(p + " features", want.features(), got.features(), tol);
                Approx.assertCloseToMax(p + " tokens", want.tokens(), got.tokens(), tol);
                // Softmax weights in [0, 1]: the bound is relative to 1.
                Approx.assertCloseToMax(p + " cls-attn", want.clsAttention(), got.clsAttention(), tol);
                // A replay of the captured graph gives the same bits; a new input gives new outputs.
                float[] first = got.logits().toArray();
                assertArrayEquals(first, dev.run(input).logits().toArray());
                Tensor other = randomInput(arena, 2, h, w, 4);
                Approx.assertCloseToMax(p + " logits, second input", ref.run(other).logits(), dev.run(other).logits(), tol);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("halfPrecisions")
    void denseMapsMatchTheJavaReference(Precision p) {
        XcitConfig cfg = XcitConfig.of(16, 64, 4, 2, 10, true);
        // With FPN weights: all four levels, the transposed convs, BatchNorm and GELU of fpn1 included.
        try (Xcit model = Xcit.randomWithFpn(cfg, 11); Arena arena = Arena.ofConfined();
             JavaBackend java = new JavaBackend(); CudaBackend cuda = CudaBackend.open(p, note -> { })) {
            Tensor input = randomInput(arena, 2, 48, 64, 5);
            try (DenseSession ref = model.denseSession(java, 2, 48, 64, DenseOptions.DEFAULT, SessionOptions.DEFAULT);
                 DenseSession dev = model.denseSession(cuda, 2, 48, 64, DenseOptions.DEFAULT, SessionOptions.DEFAULT)) {
                DenseSession.Outputs want = ref.run(input), got = dev.run(input);
                Tensor[] w = {want.stride4(), want.stride8(), want.stride16(), want.stride32()};
                Tensor[] g = {got.stride4(), got.stride8(), got.stride16(), got.stride32()};
                int compared = 0;
                for (int i = 0; i < w.length; i++) {
                    assertEquals(w[i] == null, g[i] == null, "level " + i + " present on one backend only");
                    if (w[i] == null) continue;
                    Approx.assertCloseToMax(p + " stride" + (4 << i), w[i], g[i], tolerance(p));
                    compared++;
                }
                assertEquals(4, compared, "a random model with FPN weights has every level");
            }
        }
    }

    static Stream<Precision> halfPrecisions() {
        return Stream.of(Precision.FP32, Precision.FP16, Precision.BF16);
    }

    /**
     * Fault 1 of the first GPU run (bf16 nano at 224: logits off by 2.6 with and without
     * cuBLASLt): 16-bit weights were converted on the session's non-blocking stream from a
     * staging buffer that a synchronous pageable cudaMemcpy had not filled yet. The emulated
     * device lands such copies as late as CUDA allows, so the stale-staging read happens here
     * every time; the upload is now ordered on the session's stream.
     */
    @Test
    void halfPrecisionWeightsReachTheDeviceBeforeTheyAreConverted() {
        logitsMatchTheJavaReference(Precision.BF16, false, XcitConfig.of(16, 64, 2, 2, 10, true), 1, 32, 32);
    }

    /**
     * Fault 2 (bf16/fp16 with cuBLASLt on xcit_small: every output off by its own size): the
     * plans were chosen for cuBLASLt's default 256-byte alignment and a NULL bias while the
     * 16-bit activations are 32-byte aligned or less and the bias pointer came later. The
     * emulated cuBLASLt refuses pointers less aligned than its heuristic was told.
     */
    @Test
    void cublasLtIsToldTheRealAlignmentOfEveryOperand() {
        logitsMatchTheJavaReference(Precision.FP16, true, XcitConfig.of(16, 48, 2, 2, 10, true), 2, 32, 48);
    }

    private static void logitsMatchTheJavaReference(Precision p, boolean cublasLt, XcitConfig cfg, int b, int h, int w) {
        try (Xcit model = Xcit.random(cfg, 5); Arena arena = Arena.ofConfined();
             JavaBackend java = new JavaBackend(); CudaBackend cuda = CudaBackend.open(p, cublasLt, null, note -> { })) {
            if (cublasLt && Cuda.probe().emulated()) assertTrue(cuda.usesCublasLt(), "the emulated device has cuBLASLt");
            assumeTrue(cuda.usesCublasLt() == cublasLt, "cuBLASLt is not available");
            Tensor input = randomInput(arena, b, h, w, 6);
            try (Session ref = model.session(java, b, h, w); Session dev = model.session(cuda, b, h, w)) {
                Approx.assertCloseToMax(p + " logits", ref.run(input).logits(), dev.run(input).logits(), tolerance(p));
            }
        }
    }

    static Stream<Arguments> launchCases() {
        // xcit_nano_12_p16 itself, and xcit_small_12_p16's structure (depth 12, 8 heads,
        // tokens_norm) at nano's width: launches depend on the structure, not on C, and a
        // forward of the real small takes ~40 s on the emulated device (`xcit bench` counts it).
        XcitConfig nano = ModelZoo.require("xcit_nano_12_p16").config();
        XcitConfig smallShape = XcitConfig.of(16, 128, 12, 8, 1000, true);
        List<Arguments> out = new ArrayList<>();
        for (XcitConfig cfg : List.of(nano, smallShape)) {
            for (Precision p : List.of(Precision.FP32, Precision.BF16)) {
                for (int batch : new int[] {1, 2}) out.add(Arguments.of(cfg == nano ? "nano" : "small-shaped", cfg, p, batch));
            }
        }
        return out.stream();
    }

    /**
     * Issue 13's launch budget: at most 10 kernels per XCA block plus 30 for the rest of a
     * forward (patch embedding, class-attention stage, head, the outputs' conversion), counted
     * as the kernel nodes of the captured graph at 224 x 224, with cuBLASLt (whose products the
     * emulated device counts one kernel each). The per-block count is measured, not assumed:
     * the same architecture at depth 1 gives the rest, and every block must add the same.
     */
    @ParameterizedTest(name = "{0} {2} batch {3}")
    @MethodSource("launchCases")
    void aForwardLaunchesAtMostTenKernelsPerBlockPlusThirty(String name, XcitConfig cfg, Precision p, int batch) {
        XcitConfig one = XcitConfig.of(cfg.patchSize(), cfg.embedDim(), 1, cfg.numHeads(), cfg.numClasses(), cfg.tokensNorm());
        int whole = launches(cfg, p, batch), shallow = launches(one, p, batch);
        int blocks = cfg.depth() - 1, perBlock = (whole - shallow) / blocks, rest = shallow - perBlock;
        String what = name + " " + p + " batch " + batch + ": " + whole + " launches, " + shallow + " at depth 1";
        assertEquals(0, (whole - shallow) % blocks, what + ": blocks differ in launches");
        assertTrue(perBlock <= 10, what + ": " + perBlock + " per XCA block");
        assertTrue(rest <= 30, what + ": " + rest + " outside the XCA blocks");
    }

    static int launches(XcitConfig cfg, Precision p, int batch) {
        try (Xcit model = Xcit.random(cfg, 3); CudaBackend cuda = CudaBackend.open(p, true, null, note -> { });
             Session s = model.session(cuda, batch, 224, 224)) {
            assertTrue(cuda.usesCublasLt(), "the emulated device has cuBLASLt");
            return cuda.execution(s.forward()).kernelLaunches();
        }
    }

    /**
     * Sessions opened and closed on one backend give back every device byte but the weights,
     * which the backend keeps for its next session; closing the backend gives back the rest.
     */
    @Test
    void closingSessionsFreesTheirDeviceMemory() {
        XcitConfig cfg = XcitConfig.of(16, 32, 1, 2, 10, true);
        long start = DeviceBuffer.liveBytes();
        try (Xcit model = Xcit.random(cfg, 3); Arena arena = Arena.ofConfined()) {
            Tensor input = randomInput(arena, 1, 32, 32, 1);
            try (CudaBackend cuda = CudaBackend.open(Precision.BF16, note -> { })) {
                long withWeights = -1;
                for (int i = 0; i < 5; i++) {
                    try (Session s = model.session(cuda, 1, 32, 32)) {
                        s.run(input);
                    }
                    if (i == 0) withWeights = DeviceBuffer.liveBytes();
                    assertEquals(withWeights, DeviceBuffer.liveBytes(), "device bytes in use after session " + (i + 1));
                }
            }
        }
        assertEquals(start, DeviceBuffer.liveBytes(), "device bytes in use after the backend closed");
    }

    static Tensor randomInput(Arena arena, int b, int h, int w, long seed) {
        Tensor input = Tensor.allocate(arena, Shape.of(b, 3, h, w));
        SplittableRandom r = new SplittableRandom(seed);
        for (long i = 0; i < input.numel(); i++) input.set(i, (float) r.nextGaussian());
        return input;
    }

    private static double tolerance(Precision p) {
        return Approx.relToMax(p);
    }
}
