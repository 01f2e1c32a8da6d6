package org.xcit4j.serve;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.xcit4j.backend.Backend;
import org.xcit4j.model.Session;
import org.xcit4j.tensor.Shape;

/**
 * A {@link Predictor}'s planned sessions, by input shape (B, 3, H, W), bounded by a memory
 * limit. A request takes an idle session of its shape, or a new one; afterwards the session
 * goes back idle. Sessions in use are never closed; to stay within the limit, idle ones are
 * closed least recently used first (any shape), and a request whose new session does not fit
 * beside the sessions in use waits until one is returned. A shape's size is known once it has
 * been planned; the first session of a shape is charged after it is made, so the limit can be
 * passed by that one session until the next eviction. Sessions are made and closed outside
 * the lock: other requests never wait for a plan or a free.
 */
final class SessionCache {

    /** Plans a session (with its own backend) for a shape. */
    interface Factory {
        Entry open(Shape shape);
    }

    /** A session, the backend it alone uses, and what it is charged against the limit. */
    record Entry(Shape shape, Session session, Backend backend, long bytes) {
        void close() {
            try {
                session.close();
            } finally {
                backend.close();
            }
        }
    }

    /** A request's outcome inside the lock: an idle session, or bytes reserved for a new one. */
    private record Claim(Entry idle, long reserved) {
    }

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition returned = lock.newCondition();
    private final Factory factory;
    private final long limit;
    /** Idle sessions, least recently used first. */
    private final List<Entry> idle = new ArrayList<>();
    private final Map<Shape, Long> sizes = new HashMap<>();
    /** Bytes of sessions in use, idle, or being made. */
    private long held;
    private int inUse;
    private long created, evicted;
    private boolean closed;

    SessionCache(Factory factory, long limit) {
        this.factory = factory;
        this.limit = limit;
    }

    /** A session for {@code shape}, in use until {@link #release}; waits while the sessions in use leave no room. */
    Entry acquire(Shape shape) throws InterruptedException {
        while (true) {
            List<Entry> evict = new ArrayList<>();
            Claim claim;
            lock.lock();
            try {
                claim = claim(shape, evict);
                if (claim == null && evict.isEmpty()) returned.await();
            } finally {
                lock.unlock();
            }
            closeAll(evict);
            if (claim == null) continue;
            if (claim.idle() != null) return claim.idle();
            return create(shape, claim.reserved());
        }
    }

    /** Inside the lock: an idle session, a reservation (evicting idle ones into {@code evict}), or null: wait. */
    private Claim claim(Shape shape, List<Entry> evict) {
        if (closed) throw new IllegalStateException("the predictor has been closed");
        for (int i = idle.size() - 1; i >= 0; i--) {
            if (idle.get(i).shape().equals(shape)) {
                inUse++;
                return new Claim(idle.remove(i), 0);
            }
        }
        long need = sizes.getOrDefault(shape, 0L);
        if (need > limit) throw tooLarge(shape, need);
        while (held + need > limit && !idle.isEmpty()) evict.add(evictOldest());
        if (held + need > limit && inUse > 0) return null;
        held += need;
        inUse++;
        return new Claim(null, need);
    }

    private Entry create(Shape shape, long reserved) {
        Entry e;
        try {
            e = factory.open(shape);
        } catch (RuntimeException | Error ex) {
            giveBack(reserved);
            throw ex;
        }
        List<Entry> evict = new ArrayList<>();
        boolean fits;
        lock.lock();
        try {
            created++;
            sizes.put(shape, e.bytes());
            held += e.bytes() - reserved;
            fits = e.bytes() <= limit;
            if (!fits) {
                held -= e.bytes();
                inUse--;
                returned.signalAll();
            }
            while (held > limit && !idle.isEmpty()) evict.add(evictOldest());
        } finally {
            lock.unlock();
        }
        if (!fits) evict.add(e);
        closeAll(evict);
        if (!fits) throw tooLarge(shape, e.bytes());
        return e;
    }

    private void giveBack(long reserved) {
        lock.lock();
        try {
            held -= reserved;
            inUse--;
            returned.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Returns a session taken by {@link #acquire}: idle again, or closed if {@code broken} or the cache is closed. */
    void release(Entry e, boolean broken) {
        List<Entry> evict = new ArrayList<>();
        lock.lock();
        try {
            inUse--;
            if (broken || closed) {
                held -= e.bytes();
                evict.add(e);
            } else {
                idle.add(e);
                while (held > limit && !idle.isEmpty()) evict.add(evictOldest());
            }
            returned.signalAll();
        } finally {
            lock.unlock();
        }
        closeAll(evict);
    }

    private Entry evictOldest() {
        Entry e = idle.removeFirst();
        held -= e.bytes();
        evicted++;
        return e;
    }

    private IllegalArgumentException tooLarge(Shape shape, long bytes) {
        return new IllegalArgumentException("a session for input " + shape + " needs " + (bytes >> 20) + " MiB, more than the "
                + "predictor's memory limit of " + (limit >> 20) + " MiB (PredictorOptions.withMemoryLimit, or streamed "
                + "execution through PredictorOptions.withSession)");
    }

    Predictor.Stats stats() {
        lock.lock();
        try {
            return new Predictor.Stats(idle.size() + inUse, inUse, held, limit, created, evicted);
        } finally {
            lock.unlock();
        }
    }

    /** Closes the idle sessions now and waits for those in use to come back (they are closed then). */
    void close() {
        List<Entry> evict;
        lock.lock();
        try {
            closed = true;
            evict = new ArrayList<>(idle);
            for (Entry e : idle) held -= e.bytes();
            idle.clear();
            while (inUse > 0) returned.awaitUninterruptibly();
        } finally {
            lock.unlock();
        }
        closeAll(evict);
    }

    private static void closeAll(List<Entry> entries) {
        RuntimeException failure = null;
        for (Entry e : entries) {
            try {
                e.close();
            } catch (RuntimeException ex) {
                if (failure == null) failure = ex;
                else failure.addSuppressed(ex);
            }
        }
        if (failure != null) throw failure;
    }
}
