package org.xcit4j;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import org.xcit4j.backend.Precision;
import org.xcit4j.tensor.Tensor;

/**
 * Numeric comparison for every test: |got - ref| <= atol + rtol * |ref| element-wise, and on
 * failure the max absolute and relative errors, the worst index and a few pairs.
 * The tolerance constants live here, one place, with their justification.
 */
public final class Approx {
    /**
     * Against timm goldens (float32 PyTorch vs our float32 with double accumulation): the
     * acceptance criterion max|diff| <= 1e-4 * max(1, max|expected|). timm's own float32
     * run differs from a float64 one by up to 1e-5 on these models (measured by the golden
     * generator), so 1e-4 leaves a margin of 10.
     */
    public static final double GOLDEN_REL_TO_MAX = 1e-4;

    /**
     * Op-level float32 native kernels against the double-accumulating Java reference: sums
     * over up to a few thousand terms in float32 lose ~1e-6 relative.
     */
    public static final double F32_ATOL = 1e-5, F32_RTOL = 1e-4;

    /**
     * The CPU backend's bf16 (GEMM inputs rounded to bf16, 8-bit mantissa, fp32 storage)
     * against fp32: worst 9.5e-3 of max(1, max|ref|) over logits, features and tokens of
     * random zoo and small models (tools/precision/README.md, column "cpu bf16"); 5e-2 leaves
     * 5x while still catching a wrong conversion.
     */
    public static final double BF16_REL_TO_MAX = 5e-2;

    /**
     * A CUDA device (real or emulated) against the fp32 reference, per precision, relative to
     * max(1, max|ref|): the bounds of `xcit selftest` (PrecisionOptionTest keeps them equal).
     * tools/precision/measure_tolerances.py replays the CUDA forward's roundings in PyTorch:
     * worst over zoo models, sizes and seeds tf32 1.0e-3, fp16 3.8e-3, bf16 3.4e-2; on the
     * small configurations of the device tests (depth 2, C 64/96, batch 2) 1.0e-3, 2.4e-3,
     * 2.4e-2. Each bound is about 4x the worst (3.9-5x; why: SelftestCommand.tolerance).
     */
    public static final double CUDA_TF32_REL_TO_MAX = 5e-3, CUDA_FP16_REL_TO_MAX = 1.5e-2, CUDA_BF16_REL_TO_MAX = 1.5e-1;

    /**
     * Whole-model native CPU vs the Java reference: the golden criterion again, since the
     * native kernels differ from the reference only by float32 rounding (GEMMs and token sums
     * in float32 instead of double), far below timm's own float32 error that the criterion
     * was sized for.
     */
    public static final double CPU_VS_REFERENCE_REL_TO_MAX = GOLDEN_REL_TO_MAX;

    private Approx() {
    }

    /** The bound of a whole forward on a CUDA device in {@code p}, relative to max(1, max|ref|). */
    public static double relToMax(Precision p) {
        return switch (p) {
            case FP32 -> GOLDEN_REL_TO_MAX;
            case TF32 -> CUDA_TF32_REL_TO_MAX;
            case FP16 -> CUDA_FP16_REL_TO_MAX;
            case BF16 -> CUDA_BF16_REL_TO_MAX;
        };
    }

    /** max|got - ref| <= rel * max(1, max|ref|). */
    public static void assertCloseToMax(String what, Tensor expected, Tensor actual, double rel) {
        double maxRef = 0;
        for (long i = 0; i < expected.numel(); i++) maxRef = Math.max(maxRef, Math.abs(expected.get(i)));
        assertClose(what, expected, actual, rel * Math.max(1, maxRef), 0);
    }

    /** The golden criterion: max|got - ref| <= 1e-4 * max(1, max|ref|). */
    public static void assertGolden(String what, Tensor expected, Tensor actual) {
        assertCloseToMax(what, expected, actual, GOLDEN_REL_TO_MAX);
    }

    public static void assertClose(String what, Tensor expected, Tensor actual, double atol, double rtol) {
        if (!expected.shape().equals(actual.shape())) {
            fail(what + ": shape " + actual.shape() + ", expected " + expected.shape());
        }
        double maxAbs = 0, maxRel = 0;
        long worst = -1, bad = 0;
        List<String> pairs = new ArrayList<>();
        for (long i = 0; i < expected.numel(); i++) {
            double r = expected.get(i), g = actual.get(i), d = Math.abs(g - r);
            boolean ok = d <= atol + rtol * Math.abs(r); // false for NaN too
            if (!ok) {
                bad++;
                if (pairs.size() < 5) pairs.add("[" + i + "] got " + g + " want " + r);
            }
            if (!(d <= maxAbs)) {
                maxAbs = Double.isNaN(d) ? Double.POSITIVE_INFINITY : d;
                worst = i;
            }
            maxRel = Math.max(maxRel, d / Math.max(Math.abs(r), 1e-30));
        }
        if (bad > 0) {
            fail(String.format("%s: %d of %d elements outside atol %.3g + rtol %.3g; max abs %.3g at [%d], max rel %.3g; %s",
                    what, bad, expected.numel(), atol, rtol, maxAbs, worst, maxRel, pairs));
        }
    }
}
