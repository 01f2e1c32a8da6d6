package org.xcit4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.cpu.CpuBackend;
import org.xcit4j.backend.java.JavaBackend;
import org.xcit4j.tensor.Tensor;

/**
 * A session is single-threaded and says so: while one thread is inside a run, a run or close
 * from another thread is refused with an IllegalStateException naming the problem (before,
 * the second run silently overwrote the first one's activations). The first thread is held
 * inside its run by a gate in front of the backend, so the overlap is certain, not a race.
 */
class SessionConcurrencyTest {
    static final XcitConfig CFG = XcitConfig.of(8, 32, 1, 2, 4, true);

    /** {@code backend} behind a gate: the first run signals {@code inside} and waits for {@code proceed}. */
    static Backend gated(Backend backend, CountDownLatch inside, CountDownLatch proceed) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, (proxy, method, args) -> {
            if (method.getName().equals("run") && inside.getCount() > 0) {
                inside.countDown();
                if (!proceed.await(60, TimeUnit.SECONDS)) throw new IllegalStateException("gate never opened");
            }
            try {
                return method.invoke(backend, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        });
    }

    static Tensor input(Arena arena, int side) {
        Tensor x = Tensor.allocate(arena, 1, 3, side, side);
        for (long i = 0; i < x.numel(); i++) x.set(i, (float) Math.sin(i * 0.37));
        return x;
    }

    interface Runner {
        void run(Tensor x);
    }

    /** Runs {@code first} on another thread, held inside the backend, and checks what this thread may do meanwhile. */
    static void assertRefusedWhileRunning(Runner run, AutoCloseable close, Tensor x, CountDownLatch inside,
                                          CountDownLatch proceed) throws Exception {
        ExecutorService other = Executors.newSingleThreadExecutor(r -> new Thread(r, "first-runner"));
        try {
            Future<?> first = other.submit(() -> run.run(x));
            assertTrue(inside.await(60, TimeUnit.SECONDS), "the first run reached the backend");
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> run.run(x));
            assertTrue(e.getMessage().contains("'first-runner' is running it") && e.getMessage().contains("single-threaded"),
                    e.getMessage());
            IllegalStateException c = assertThrows(IllegalStateException.class, close::close);
            assertTrue(c.getMessage().startsWith("cannot close the session"), c.getMessage());
            proceed.countDown();
            first.get(60, TimeUnit.SECONDS);
            run.run(x); // free again: this thread may run it now
        } finally {
            proceed.countDown();
            other.shutdownNow();
        }
    }

    @Test
    void aSessionRefusesASecondThreadInsideARun() throws Exception {
        CountDownLatch inside = new CountDownLatch(1), proceed = new CountDownLatch(1);
        try (Xcit model = Xcit.random(CFG, 1); JavaBackend java = new JavaBackend(); Arena arena = Arena.ofShared();
             Session s = model.session(gated(java, inside, proceed), 1, 32, 32)) {
            Tensor x = input(arena, 32);
            assertRefusedWhileRunning(s::run, s, x, inside, proceed);
        }
    }

    @Test
    void aDenseSessionRefusesASecondThreadInsideARun() throws Exception {
        CountDownLatch inside = new CountDownLatch(1), proceed = new CountDownLatch(1);
        try (Xcit model = Xcit.random(CFG, 1); JavaBackend java = new JavaBackend(); Arena arena = Arena.ofShared();
             DenseSession s = model.denseSession(gated(java, inside, proceed), 1, 64, 64, DenseOptions.DEFAULT, SessionOptions.DEFAULT)) {
            Tensor x = input(arena, 64);
            assertRefusedWhileRunning(s::run, s, x, inside, proceed);
        }
    }

    /**
     * Two sessions on one CpuBackend from two threads: the backend's scratch and context are
     * shared, so the second is refused too, by the backend, and nothing is computed wrong.
     */
    @Test
    void aCpuBackendRefusesASecondSessionRunningAtTheSameTime() throws Exception {
        try (Xcit model = Xcit.random(CFG, 1); CpuBackend cpu = new CpuBackend(1); Arena arena = Arena.ofShared();
             Session a = model.session(cpu, 1, 32, 32); Session b = model.session(cpu, 1, 40, 40)) {
            Tensor xa = input(arena, 32), xb = input(arena, 40);
            float[] want = a.run(xa).logits().toArray();
            int refused = 0;
            ExecutorService other = Executors.newSingleThreadExecutor();
            try {
                CountDownLatch started = new CountDownLatch(1);
                Future<Integer> loop = other.submit(() -> {
                    int n = 0;
                    started.countDown();
                    for (int i = 0; i < 2000; i++) {
                        try {
                            b.run(xb);
                        } catch (IllegalStateException e) {
                            if (!e.getMessage().contains("A CpuBackend runs one forward at a time")) throw e;
                            n++;
                        }
                    }
                    return n;
                });
                started.await();
                for (int i = 0; i < 2000; i++) {
                    try {
                        assertArrayEquals(want, a.run(xa).logits().toArray(), "logits of a run that was not refused");
                    } catch (IllegalStateException e) {
                        assertTrue(e.getMessage().contains("A CpuBackend runs one forward at a time"), e.getMessage());
                        refused++;
                    }
                }
                refused += loop.get(120, TimeUnit.SECONDS);
            } finally {
                other.shutdownNow();
            }
            System.out.println("SessionConcurrencyTest: runs refused by the shared backend: " + refused + " of 4000");
        }
    }
}
