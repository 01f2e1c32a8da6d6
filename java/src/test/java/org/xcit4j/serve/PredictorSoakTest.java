package org.xcit4j.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;
import org.xcit4j.Inputs;
import org.xcit4j.NativeMemory;
import org.xcit4j.TestData;
import org.xcit4j.backend.Device;
import org.xcit4j.model.Xcit;
import org.xcit4j.tensor.Tensor;

/**
 * A Predictor under churn: thousands of requests alternating shapes with a memory limit that
 * fits one session, so nearly every request closes the idle session of the other shape and
 * plans its own (backend, primitives, covariance state and all): resident memory stays flat
 * ({@link NativeMemory.Trend}) and every closed session is gone (sessions made = sessions held
 * + sessions closed). Default concurrency: one thread per forward.
 */
class PredictorSoakTest {
    /** RSS growth allowed over the soak, for the JVM's own noise (JIT, metaspace, heap). */
    static final long RSS_MARGIN = 24L << 20;

    @Test
    void alternatingShapesWithEvictionsStayFlat() throws IOException {
        int[] sides = {168, 176, 32};
        int warmup = 600, soak = 2400, checkpoint = 300;
        try (Xcit model = Xcit.load(TestData.root().resolve("models/xcit_fashion_micro.safetensors")); Arena arena = Arena.ofConfined()) {
            Tensor[] x = new Tensor[sides.length];
            for (int k = 0; k < sides.length; k++) {
                x[k] = Inputs.gaussian(arena, k, 1, 3, sides[k], sides[k]);
            }
            long all;
            float[][] want = new float[sides.length][];
            try (Predictor probe = Predictor.of(model, PredictorOptions.DEFAULT.withDevice(Device.CPU))) {
                for (int k = 0; k < sides.length; k++) want[k] = probe.logits(x[k])[0];
                all = probe.stats().bytes(); // the three sessions together
            }
            try (Predictor p = Predictor.of(model, PredictorOptions.DEFAULT.withDevice(Device.CPU)
                    .withMemoryLimit(all * 2 / 3))) { // room for 32 px and one of the others
                NativeMemory.Trend rss = null;
                long created = 0;
                for (int i = 0; i < warmup + soak; i++) {
                    if (i == warmup) {
                        rss = new NativeMemory.Trend();
                        created = p.stats().created();
                    } else if (i > warmup && (i - warmup) % checkpoint == 0) {
                        rss.checkpoint();
                    }
                    int k = i % sides.length;
                    assertArrayEquals(want[k], p.logits(x[k])[0], "request " + i);
                }
                rss.checkpoint();
                Predictor.Stats s = p.stats();
                System.out.printf("PredictorSoakTest: %d requests, %d sessions made and closed in them; %s; %s%n",
                        soak, s.created() - created, rss, s);
                assertTrue(s.created() - created > soak / 2, "the soak opened and closed sessions: " + s);
                assertEquals(s.created() - s.evicted(), s.sessions(), "every session made is held or closed");
                assertTrue(s.bytes() <= s.memoryLimit(), s.toString());
                assertTrue(rss.growth() < RSS_MARGIN, rss + " over " + soak + " requests");
            }
        }
    }
}
