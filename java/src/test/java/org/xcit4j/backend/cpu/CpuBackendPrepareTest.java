package org.xcit4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.xcit4j.backend.java.JavaBackend;
import org.xcit4j.model.Session;
import org.xcit4j.model.SessionOptions;
import org.xcit4j.model.Xcit;
import org.xcit4j.model.XcitConfig;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * CpuBackend.prepare walks a session's forward once without executing GEMMs: the session
 * then holds every oneDNN primitive (with its packed weights) and im2col plan its runs use,
 * so runs make none (memory measured after creating a session is what runs need), and the
 * walk leaves no trace in the results.
 */
class CpuBackendPrepareTest {

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"FULL", "STREAMED"})
    void runsMakeNothingThatTheSessionDidNotAlreadyHold(String execution) {
        XcitConfig cfg = XcitConfig.of(16, 48, 2, 4, 5, true);
        int h = 100, w = 84; // grid 7 x 6: uneven bands of 2 rows
        SessionOptions options = SessionOptions.DEFAULT.withExecution(SessionOptions.Execution.valueOf(execution)).withBandRows(2);
        try (Xcit model = Xcit.random(cfg, 3); CpuBackend cpu = new CpuBackend(2); JavaBackend ref = new JavaBackend();
             Arena arena = Arena.ofConfined()) {
            Tensor x = Tensor.allocate(arena, Shape.of(1, 3, h, w));
            SplittableRandom r = new SplittableRandom(5);
            for (long i = 0; i < x.numel(); i++) x.set(i, (float) r.nextGaussian());
            try (Session s = model.session(cpu, 1, h, w, options); Session expected = model.session(ref, 1, h, w, options)) {
                int prepared = cpu.preparedObjects();
                assertTrue(prepared > 0);
                float[] first = s.run(x).logits().toArray();
                s.run(x);
                assertEquals(prepared, cpu.preparedObjects(), "objects made by runs after prepare");
                float[] want = expected.run(x).logits().toArray();
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], first[i], 1e-4 * Math.max(1, Math.abs(want[i])), "logit " + i);
                }
            }
        }
    }
}
