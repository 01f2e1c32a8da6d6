package org.xcit4j.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.xcit4j.backend.Device;
import org.xcit4j.model.Xcit;
import org.xcit4j.model.XcitConfig;
import org.xcit4j.tensor.Tensor;

/**
 * The session cache: any input shape is served without the caller planning sessions; the
 * memory limit holds (least recently used idle sessions are closed), a request that does not
 * fit beside the sessions in use waits for one to come back, a shape larger than the limit is
 * refused with a message naming it, and a closed predictor refuses requests.
 */
class PredictorSessionCacheTest {
    static final XcitConfig CFG = XcitConfig.of(8, 32, 1, 2, 4, true);

    static Tensor input(Arena arena, int b, int h, int w) {
        Tensor x = Tensor.allocate(arena, b, 3, h, w);
        for (long i = 0; i < x.numel(); i++) x.set(i, (float) Math.sin(i * 0.013 + h));
        return x;
    }

    /** Activation bytes of one session for (b, h, w), measured through a predictor with room for it. */
    static long bytesOf(Xcit model, int b, int h, int w) {
        try (Predictor p = Predictor.of(model, PredictorOptions.DEFAULT.withDevice(Device.CPU).withConcurrency(1));
             Arena arena = Arena.ofConfined()) {
            p.logits(input(arena, b, h, w));
            return p.stats().bytes();
        }
    }

    @Test
    void evictsLeastRecentlyUsedSessionsToStayWithinTheLimit() {
        int[][] shapes = {{1, 32, 32}, {1, 48, 40}, {2, 32, 32}, {1, 64, 64}, {1, 24, 72}};
        try (Xcit model = Xcit.random(CFG, 3); Arena arena = Arena.ofConfined()) {
            long largest = 0;
            for (int[] s : shapes) largest = Math.max(largest, bytesOf(model, s[0], s[1], s[2]));
            long limit = 2 * largest; // room for two sessions at most
            Tensor[] x = new Tensor[shapes.length];
            float[][][] want = new float[shapes.length][][];
            try (Predictor p = Predictor.of(model, PredictorOptions.DEFAULT.withDevice(Device.CPU).withConcurrency(1)
                    .withMemoryLimit(limit))) {
                for (int k = 0; k < shapes.length; k++) {
                    x[k] = input(arena, shapes[k][0], shapes[k][1], shapes[k][2]);
                    want[k] = p.logits(x[k]);
                }
                for (int round = 0; round < 4; round++) {
                    for (int k = 0; k < shapes.length; k++) {
                        assertArrayEquals(want[k][0], p.logits(x[k])[0], "round " + round + " shape " + k);
                        Predictor.Stats s = p.stats();
                        assertTrue(s.bytes() <= limit, s + " over the limit");
                    }
                }
                Predictor.Stats s = p.stats();
                System.out.println("PredictorSessionCacheTest: " + s);
                assertTrue(s.evicted() > 0, "sessions were closed to stay within the limit");
                assertEquals(s.created() - s.evicted(), s.sessions(), "every session made is either held or closed");
            }
        }
    }

    @Test
    void aRepeatedShapeReusesItsSession() {
        try (Xcit model = Xcit.random(CFG, 3); Arena arena = Arena.ofConfined();
             Predictor p = Predictor.of(model, PredictorOptions.DEFAULT.withDevice(Device.CPU).withConcurrency(1))) {
            Tensor x = input(arena, 1, 40, 56);
            for (int i = 0; i < 20; i++) p.logits(x);
            assertEquals(1, p.stats().created());
            assertEquals(1, p.stats().sessions());
        }
    }

    @Test
    void aRequestThatDoesNotFitBesideSessionsInUseWaitsForOne() throws Exception {
        try (Xcit model = Xcit.random(CFG, 3); Arena arena = Arena.ofShared()) {
            long one = Math.max(bytesOf(model, 1, 64, 64), bytesOf(model, 1, 56, 48));
            CountDownLatch inside = new CountDownLatch(1), proceed = new CountDownLatch(1);
            try (Predictor p = Predictor.of(model, PredictorOptions.DEFAULT.withDevice(Device.CPU).withConcurrency(2)
                    .withMemoryLimit(one + one / 2))) {
                Tensor a = input(arena, 1, 64, 64), b = input(arena, 1, 56, 48);
                float[] wantA = p.logits(a)[0], wantB = p.logits(b)[0]; // both sizes known now; b's session evicted a's
                ExecutorService pool = Executors.newFixedThreadPool(2);
                try {
                    Future<float[]> first = pool.submit(() -> p.run(a, out -> {
                        inside.countDown(); // holds the only room the limit has
                        await(proceed);
                        return out.logits().toArray();
                    }));
                    assertTrue(inside.await(60, TimeUnit.SECONDS));
                    Future<float[]> second = pool.submit(() -> p.logits(b)[0]);
                    Thread.sleep(200);
                    assertTrue(!second.isDone(), "the second request waits while the first holds the memory");
                    assertEquals(1, p.stats().inUse());
                    proceed.countDown();
                    assertArrayEquals(wantA, first.get(60, TimeUnit.SECONDS));
                    assertArrayEquals(wantB, second.get(60, TimeUnit.SECONDS));
                    assertTrue(p.stats().bytes() <= one + one / 2);
                } finally {
                    proceed.countDown();
                    pool.shutdownNow();
                }
            }
        }
    }

    static void await(CountDownLatch latch) {
        try {
            if (!latch.await(60, TimeUnit.SECONDS)) throw new IllegalStateException("never released");
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aShapeLargerThanTheLimitIsRefused() {
        try (Xcit model = Xcit.random(CFG, 3); Arena arena = Arena.ofConfined();
             Predictor p = Predictor.of(model, PredictorOptions.DEFAULT.withDevice(Device.CPU).withMemoryLimit(64 << 10))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.logits(input(arena, 1, 256, 256)));
            assertTrue(e.getMessage().contains("(1, 3, 256, 256)") && e.getMessage().contains("memory limit"), e.getMessage());
            assertEquals(0, p.stats().sessions(), "the session that did not fit was closed");
            assertEquals(0, p.stats().bytes());
            assertThrows(IllegalArgumentException.class, () -> p.logits(input(arena, 1, 256, 256)), "refused again, now by its known size");
        }
    }

    @Test
    void badInputsAndAClosedPredictorAreRefused() {
        try (Xcit model = Xcit.random(CFG, 3); Arena arena = Arena.ofConfined()) {
            Predictor p = Predictor.of(model, PredictorOptions.DEFAULT.withDevice(Device.CPU));
            assertThrows(IllegalArgumentException.class, () -> p.logits(Tensor.allocate(arena, 1, 1, 32, 32)));
            assertThrows(IllegalArgumentException.class,
                    () -> Predictor.of(model, PredictorOptions.DEFAULT.withDevice(Device.CPU).withConcurrency(1000)));
            p.logits(input(arena, 1, 32, 32));
            p.close();
            p.close();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> p.logits(input(arena, 1, 32, 32)));
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
            assertEquals(0, p.stats().sessions());
        }
    }

    @Test
    void givenThreadsSetTheConcurrencyAndMayNotOversubscribe() {
        int cores = Runtime.getRuntime().availableProcessors();
        try (Xcit model = Xcit.random(CFG, 3)) {
            try (Predictor p = Predictor.of(model, PredictorOptions.DEFAULT.withDevice(Device.CPU).withThreads(1))) {
                assertEquals(1, p.threadsPerRequest());
                assertEquals(cores, p.concurrency(), "cores / threads forwards at once");
            }
            try (Predictor p = Predictor.of(model, PredictorOptions.DEFAULT.withDevice(Device.CPU).withThreads(1).withConcurrency(1))) {
                assertEquals(1, p.threadsPerRequest());
                assertEquals(1, p.concurrency());
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Predictor.of(model, PredictorOptions.DEFAULT.withDevice(Device.CPU).withThreads(cores + 1)));
            assertTrue(e.getMessage().contains("oversubscribe"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> PredictorOptions.DEFAULT.withThreads(-1));
        }
    }
}
