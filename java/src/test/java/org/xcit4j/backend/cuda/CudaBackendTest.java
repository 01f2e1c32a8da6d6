package org.xcit4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xcit4j.Approx;
import org.xcit4j.backend.Precision;
import org.xcit4j.backend.java.JavaBackend;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.model.XcitConfig;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * CudaBackend against the Java reference, whole model, on a real GPU. Skipped, with the
 * probe's reason (no driver, no runtime, no device...), where there is none: the kernels
 * themselves are checked everywhere by native/tests/emu under the host emulator.
 */
class CudaBackendTest {

    // Per test, not @BeforeAll: every skipped test is reported as skipped, with the reason.
    @BeforeEach
    void requireDevice() {
        Cuda.Probe p = Cuda.probe();
        assumeTrue(p.available(), () -> "needs a CUDA device: " + p.reason());
    }

    /** Tolerance relative to max(1, max|ref|): Approx.relToMax, measured per precision (tools/precision). */
    @ParameterizedTest(name = "{0} p{1} C{2} {3}x{4}")
    @CsvSource({"fp32, 16, 64, 64, 48", "fp32, 8, 96, 40, 40", "tf32, 16, 64, 64, 64", "fp16, 16, 64, 64, 64",
                "bf16, 16, 64, 64, 64"})
    void wholeModelMatchesTheJavaReference(String precision, int patch, int c, int h, int w) {
        Precision p = Precision.parse(precision);
        XcitConfig cfg = XcitConfig.of(patch, c, 2, 2, 10, true);
        try (Xcit model = Xcit.random(cfg, 7); Arena arena = Arena.ofConfined();
             JavaBackend java = new JavaBackend(); CudaBackend cuda = CudaBackend.open(p, note -> { })) {
            Tensor input = Tensor.allocate(arena, Shape.of(2, 3, h, w));
            SplittableRandom r = new SplittableRandom(3);
            for (long i = 0; i < input.numel(); i++) input.set(i, (float) r.nextGaussian());
            try (Session ref = model.session(java, 2, h, w); Session dev = model.session(cuda, 2, h, w)) {
                Session.Outputs want = ref.run(input);
                Session.Outputs got = dev.run(input);
                double tol = Approx.relToMax(p);
                for (String what : new String[] {"logits", "features", "tokens"}) {
                    Tensor e = pick(want, what), g = pick(got, what);
                    double max = 0;
                    for (long i = 0; i < e.numel(); i++) max = Math.max(max, Math.abs(e.get(i)));
                    Approx.assertClose(precision + " " + what, e, g, tol * Math.max(1, max), 0);
                }
                // A replay of the captured graph gives the same bits.
                float[] first = got.logits().toArray();
                assertArrayEquals(first, dev.run(input).logits().toArray());
            }
        }
    }

    private static Tensor pick(Session.Outputs o, String what) {
        return switch (what) {
            case "logits" -> o.logits();
            case "features" -> o.features();
            default -> o.tokens();
        };
    }
}
