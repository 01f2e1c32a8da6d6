package org.xcit4j.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xcit4j.Inputs;
import org.xcit4j.TestData;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.Precision;
import org.xcit4j.backend.cpu.CpuBackend;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.tensor.Tensor;

/**
 * N threads x M requests of mixed shapes on one Predictor give exactly (bit for bit) what the
 * same requests give one at a time, and what a plain session on a backend of the same thread
 * count gives: sharing packed weights and caching sessions changes no result, and concurrency
 * never mixes two requests' activations.
 */
class PredictorLoadTest {
    /** (B, H, W) of the requests: square, non-square, several batch sizes, above and below the covariance crossover. */
    static final int[][] SHAPES = {{1, 32, 32}, {2, 32, 32}, {1, 40, 24}, {3, 48, 48}, {1, 168, 168}, {2, 24, 56}};
    static final int THREADS = 4, REQUESTS = 30;

    static Xcit model;
    static Arena arena;
    static Tensor[] inputs;

    @BeforeAll
    static void load() throws IOException {
        model = Xcit.load(TestData.root().resolve("models/xcit_fashion_micro.safetensors"));
        arena = Arena.ofShared();
        inputs = new Tensor[SHAPES.length];
        for (int k = 0; k < SHAPES.length; k++) {
            int[] s = SHAPES[k];
            inputs[k] = Inputs.gaussian(arena, k, s[0], 3, s[1], s[2]);
        }
    }

    @AfterAll
    static void close() {
        arena.close();
        model.close();
    }

    /** The request {@code i} of thread {@code t}: every thread walks the shapes from its own offset. */
    static int shapeOf(int t, int i) {
        return (t * 5 + i * 7) % SHAPES.length;
    }

    @ParameterizedTest(name = "concurrency {0}")
    @CsvSource({"1", "2"})
    void manyThreadsGetTheSingleThreadedBits(int concurrency) throws Exception {
        PredictorOptions options = PredictorOptions.DEFAULT.withDevice(Device.CPU).withConcurrency(concurrency);
        try (Predictor predictor = Predictor.of(model, options)) {
            float[][][] want = new float[SHAPES.length][][];
            for (int k = 0; k < SHAPES.length; k++) want[k] = predictor.logits(inputs[k]);
            // A plain session on a backend of its own with the same thread count: the same bits.
            try (CpuBackend own = new CpuBackend(predictor.threadsPerRequest(), Precision.FP32)) {
                for (int k = 0; k < SHAPES.length; k++) {
                    int[] s = SHAPES[k];
                    try (Session session = model.session(own, s[0], s[1], s[2])) {
                        float[] logits = session.run(inputs[k]).logits().toArray();
                        for (int b = 0; b < s[0]; b++) {
                            float[] row = java.util.Arrays.copyOfRange(logits, b * 10, b * 10 + 10);
                            assertArrayEquals(row, want[k][b], "shape " + k + " image " + b + ": predictor vs plain session");
                        }
                    }
                }
            }

            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            CyclicBarrier start = new CyclicBarrier(THREADS);
            try {
                List<Future<float[][][]>> results = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    int thread = t;
                    results.add(pool.submit(() -> {
                        start.await();
                        float[][][] got = new float[REQUESTS][][];
                        for (int i = 0; i < REQUESTS; i++) got[i] = predictor.logits(inputs[shapeOf(thread, i)]);
                        return got;
                    }));
                }
                int compared = 0;
                for (int t = 0; t < THREADS; t++) {
                    float[][][] got = results.get(t).get(10, TimeUnit.MINUTES);
                    for (int i = 0; i < REQUESTS; i++) {
                        float[][] w = want[shapeOf(t, i)];
                        assertEquals(w.length, got[i].length);
                        for (int b = 0; b < w.length; b++) {
                            assertArrayEquals(w[b], got[i][b], "thread " + t + " request " + i + " image " + b);
                            compared++;
                        }
                    }
                }
                Predictor.Stats stats = predictor.stats();
                System.out.printf("PredictorLoadTest concurrency %d (%d threads each): %d logit rows bit-identical; %s%n",
                        concurrency, predictor.threadsPerRequest(), compared, stats);
                assertEquals(0, stats.inUse());
                assertTrue(stats.sessions() <= SHAPES.length * concurrency, "at most one session per shape per concurrent forward");
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
