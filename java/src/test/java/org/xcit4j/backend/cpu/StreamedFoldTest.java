package org.xcit4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xcit4j.Approx;
import org.xcit4j.backend.java.JavaBackend;
import org.xcit4j.model.Session;
import org.xcit4j.model.SessionOptions;
import org.xcit4j.model.Xcit;
import org.xcit4j.model.XcitConfig;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Streamed blocks by the covariance route on the CPU (u^T u and column sums accumulated band
 * by band, the branch folded into one Linear per image, applied band by band) against the
 * Java reference's unchunked forward: the crossover is forced to 0 so that small models take
 * the route, with bands of one row, a few rows and all rows, batch 1 and 2.
 */
class StreamedFoldTest {

    @ParameterizedTest(name = "B{0} {1}x{2} band {3}")
    @CsvSource({"2, 90, 75, 1", "1, 256, 192, 3", "2, 129, 97, 64"})
    void foldedStreamingEqualsTheReference(int batch, int h, int w, int band) {
        XcitConfig cfg = XcitConfig.of(16, 48, 3, 4, 7, true);
        try (Xcit model = Xcit.random(cfg, 17); JavaBackend java = new JavaBackend(); CpuBackend cpu = new CpuBackend(2);
             Arena arena = Arena.ofConfined()) {
            cpu.covarianceMinTokens = 0;
            SplittableRandom r = new SplittableRandom(19);
            Tensor x = Tensor.allocate(arena, Shape.of(batch, 3, h, w));
            for (long i = 0; i < x.numel(); i++) x.set(i, (float) r.nextGaussian());
            SessionOptions full = SessionOptions.DEFAULT.withExecution(SessionOptions.Execution.FULL);
            SessionOptions streamed = SessionOptions.DEFAULT.withExecution(SessionOptions.Execution.STREAMED).withBandRows(band);
            try (Session ref = model.session(java, batch, h, w, full); Session folded = model.session(cpu, batch, h, w, streamed)) {
                assertTrue(folded.streamed());
                assertTrue(cpu.foldsStreamedXca((long) folded.gridHeight() * folded.gridWidth(), cfg.embedDim()));
                Session.Outputs a = ref.run(x), b = folded.run(x);
                String what = "B" + batch + " " + h + "x" + w + " band " + band + ": ";
                Approx.assertClose(what + "tokens", a.tokens(), b.tokens(), Approx.F32_ATOL, Approx.F32_RTOL);
                Approx.assertClose(what + "logits", a.logits(), b.logits(), Approx.F32_ATOL, Approx.F32_RTOL);
                Approx.assertClose(what + "cls attention", a.clsAttention(), b.clsAttention(), Approx.F32_ATOL, Approx.F32_RTOL);
            }
        }
    }
}
