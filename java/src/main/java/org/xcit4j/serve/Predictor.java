package org.xcit4j.serve;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Semaphore;
import java.util.function.Consumer;
import java.util.function.Function;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.Device;
import org.xcit4j.model.MemoryBudget;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Inference on one loaded model for any number of threads and any input shape: what a server
 * holds once. Each call runs on the caller's thread in a planned {@link Session} of its input's
 * shape, taken from a bounded cache ({@link SessionCache}: planned on first use, kept idle
 * afterwards, least recently used ones closed to stay within
 * {@link PredictorOptions#memoryLimit()}), so callers never plan sessions and a session is
 * never used by two threads at once.
 *
 * <p>Threads: at most {@link #concurrency()} forwards run at once; more callers wait their turn
 * (first come, first served). On host devices each forward runs with
 * {@link #threadsPerRequest()} = cores / concurrency OpenMP threads (its own team on the
 * calling thread), so forwards never oversubscribe the cores; the thread count is fixed, so a
 * result does not depend on the load: N threads get bit for bit what one thread gets.
 *
 * <p>Memory: the model's weights are held once; what a device derives from them (the CPU's
 * oneDNN-packed weights) is made once per predictor and shared by every session. Each session
 * has its own backend (its scratch, primitives and, on CUDA, its stream).
 *
 * <pre>{@code
 * try (Predictor predictor = Predictor.open(Path.of("models/xcit_fashion_micro.safetensors"), PredictorOptions.DEFAULT)) {
 *     float[][] logits = predictor.logits(input);      // from any thread, any (B, 3, H, W)
 * }
 * }</pre>
 */
public final class Predictor implements AutoCloseable {

    /**
     * What the session cache holds: {@code sessions} planned (in use and idle), {@code bytes}
     * charged against {@code memoryLimit}, and since opening, sessions {@code created} and
     * {@code evicted} (closed to stay within the limit).
     *
     * @param sessions sessions planned, in use and idle
     * @param inUse sessions running a forward now
     * @param bytes activation bytes of the planned sessions
     * @param memoryLimit the limit those bytes are kept under
     * @param created sessions planned since opening
     * @param evicted idle sessions closed to stay within the limit
     */
    public record Stats(int sessions, int inUse, long bytes, long memoryLimit, long created, long evicted) {
    }

    private final Xcit model;
    private final boolean ownsModel;
    private final DeviceBackends backends;
    private final int concurrency;
    private final Semaphore permits;
    private final SessionCache cache;
    private volatile boolean closed;

    private Predictor(Xcit model, boolean ownsModel, PredictorOptions options) {
        if (!model.hasClassifier()) {
            throw new IllegalArgumentException("this checkpoint is a dense backbone without a class-attention stage: "
                    + "a Predictor runs classification sessions");
        }
        int cores = Runtime.getRuntime().availableProcessors();
        int given = options.threads();
        // AUTO's note names the thread count a host device will get.
        int hostThreads = given > 0 ? given
                : Math.max(1, cores / (options.concurrency() > 0 ? options.concurrency() : defaultConcurrency(Device.CPU, cores)));
        Consumer<String> notes = DeviceBackends.once(options.notes());
        Device device = DeviceBackends.resolve(options.device(), options.precision(), hostThreads, notes);
        boolean host = device != Device.CUDA;
        this.concurrency = options.concurrency() > 0 ? options.concurrency()
                : host && given > 0 ? Math.max(1, cores / given) : defaultConcurrency(device, cores);
        int threads = given > 0 ? given : Math.max(1, cores / concurrency);
        if (host && (long) concurrency * threads > cores) {
            throw new IllegalArgumentException("concurrency " + concurrency + (given > 0 ? " x " + threads + " threads" : "")
                    + " is more than the " + cores + " cores device '" + device + "' runs on: forwards would oversubscribe them");
        }
        this.model = model;
        this.ownsModel = ownsModel;
        this.backends = DeviceBackends.of(device, options.precision(), host ? threads : 0, notes);
        this.permits = new Semaphore(concurrency, true);
        long limit = options.memoryLimit() > 0 ? options.memoryLimit() : MemoryBudget.available() / 4;
        this.cache = new SessionCache(shape -> openSession(shape, options), limit);
    }

    /**
     * How many forwards run at once by default: on the CPU and the Java reference, one per
     * core, each with one thread (measured with {@code PredictorBenchmark}, see the README:
     * single-threaded forwards avoid OpenMP's per-region synchronisation, which on small inputs
     * costs more than the second thread gains); on CUDA two streams, so that one request's host
     * copies overlap another's kernels.
     *
     * @param device the resolved device
     * @param cores the cores available
     * @return forwards run at once by default
     */
    public static int defaultConcurrency(Device device, int cores) {
        return device == Device.CUDA ? 2 : Math.max(1, cores);
    }

    /**
     * Loads {@code weights} (see {@link Xcit#load(Path)}); the predictor owns the model and closes it.
     *
     * @param weights a .safetensors or .pth checkpoint
     * @param options device, precision, concurrency, memory limit, ...
     * @return the predictor
     * @throws IOException if the checkpoint cannot be read
     */
    public static Predictor open(Path weights, PredictorOptions options) throws IOException {
        Xcit model = Xcit.load(weights);
        try {
            return new Predictor(model, true, options);
        } catch (RuntimeException | Error e) {
            model.close();
            throw e;
        }
    }

    /**
     * Serves {@code model}, which the caller keeps owning and closes after this predictor.
     *
     * @param model the model to serve (with its classifier)
     * @param options device, precision, concurrency, memory limit, ...
     * @return the predictor
     */
    public static Predictor of(Xcit model, PredictorOptions options) {
        return new Predictor(Objects.requireNonNull(model, "model"), false, Objects.requireNonNull(options, "options"));
    }

    private SessionCache.Entry openSession(Shape shape, PredictorOptions options) {
        Backend backend = backends.open();
        try {
            Session s = model.session(backend, shape.size(0), shape.size(2), shape.size(3), options.session());
            return new SessionCache.Entry(shape, s, backend, s.activationBytes());
        } catch (RuntimeException | Error e) {
            backend.close();
            throw e;
        }
    }

    /**
     * Runs the forward on {@code input} (B, 3, H, W), already normalised, in a session of its
     * shape, and returns what {@code reader} makes of the outputs. The outputs are views into
     * the session's memory, valid only inside {@code reader} (copy what you keep). Thread-safe;
     * waits while {@link #concurrency()} forwards are running.
     *
     * @throws CancellationException if the thread is interrupted while it waits (the interrupt flag is kept)
     *
     * @param <T> what the reader returns
     * @param input (B, 3, H, W), normalised
     * @param reader reads the outputs (views valid only during the call)
     * @return what {@code reader} returned
     */
    public <T> T run(Tensor input, Function<Session.Outputs, T> reader) {
        Shape shape = input.shape();
        if (shape.rank() != 4 || shape.dim(1) != 3 || shape.dim(0) < 1 || shape.dim(2) < 1 || shape.dim(3) < 1) {
            throw new IllegalArgumentException("input must be (B, 3, H, W) with B, H, W >= 1, got " + shape);
        }
        ensureOpen();
        try {
            permits.acquire();
        } catch (InterruptedException e) {
            throw interrupted(e);
        }
        try {
            SessionCache.Entry entry;
            try {
                entry = cache.acquire(shape);
            } catch (InterruptedException e) {
                throw interrupted(e);
            }
            Session.Outputs outputs;
            try {
                outputs = entry.session().run(input);
            } catch (RuntimeException | Error e) {
                cache.release(entry, true); // a forward that failed half-way: its state is not trusted again
                throw e;
            }
            try {
                return reader.apply(outputs);
            } finally {
                cache.release(entry, false);
            }
        } finally {
            permits.release();
        }
    }

    /**
     * The logits of {@code input} (B, 3, H, W): one row of {@code classes} per image. Thread-safe.
     *
     * @param input (B, 3, H, W), normalised
     * @return the logits, (B, classes)
     */
    public float[][] logits(Tensor input) {
        return run(input, out -> {
            Tensor logits = out.logits();
            if (logits == null) throw new IllegalStateException("the model has no classifier head (num_classes 0)");
            int b = logits.shape().size(0);
            float[][] rows = new float[b][];
            for (int i = 0; i < b; i++) rows[i] = logits.slice(i, i + 1).toArray();
            return rows;
        });
    }

    private static CancellationException interrupted(InterruptedException e) {
        Thread.currentThread().interrupt();
        CancellationException c = new CancellationException("interrupted while waiting for a session");
        c.initCause(e);
        return c;
    }

    /**
     * The model served.
     *
     * @return the model
     */
    public Xcit model() {
        return model;
    }

    /**
     * The device the sessions run on (AUTO resolved).
     *
     * @return the device
     */
    public Device device() {
        return backends.device;
    }

    /**
     * Forwards that run at once.
     *
     * @return the concurrency
     */
    public int concurrency() {
        return concurrency;
    }

    /**
     * OpenMP threads of each forward on host devices ({@link PredictorOptions#threads()}, else cores /
     * concurrency); 0 on CUDA.
     *
     * @return the threads per forward
     */
    public int threadsPerRequest() {
        return backends.threads;
    }

    /**
     * Bytes of the weights packed for the device, held once for all sessions (CPU; 0 elsewhere).
     *
     * @return the packed weight bytes
     */
    public long packedWeightBytes() {
        return backends.packedWeightBytes();
    }

    /**
     * A snapshot of the session cache.
     *
     * @return the counts now
     */
    public Stats stats() {
        return cache.stats();
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("the predictor has been closed");
    }

    /**
     * Waits for running forwards to finish, closes every session and the shared device state,
     * and the model if {@link #open} loaded it; closing twice is harmless. Calls after (and
     * waiting during) close get an IllegalStateException.
     */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            cache.close();
        } finally {
            try {
                backends.close();
            } finally {
                if (ownsModel) model.close();
            }
        }
    }
}
