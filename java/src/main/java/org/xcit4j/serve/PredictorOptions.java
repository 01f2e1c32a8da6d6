package org.xcit4j.serve;

import java.util.Objects;
import java.util.function.Consumer;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.Precision;
import org.xcit4j.model.SessionOptions;

/**
 * How a {@link Predictor} runs; every field has a default ({@link #DEFAULT}).
 *
 * @param device      where sessions run; {@link Device#AUTO} picks as {@code Backends.open} does, once
 * @param precision   the GEMM precision (fp32 everywhere; bf16 on CPUs with avx512_bf16; tf32, fp16, bf16 on CUDA)
 * @param concurrency forwards that run at once (more callers wait their turn); 0 picks
 *                    {@link Predictor#defaultConcurrency}. On host devices at most the number of
 *                    cores: each forward gets {@code cores / concurrency} threads, so the cores are
 *                    never oversubscribed
 * @param threads     OpenMP threads of each forward on host devices; 0 means {@code cores / concurrency}.
 *                    Given, concurrency defaults to {@code cores / threads}, and {@code concurrency *
 *                    threads} may not exceed the cores (a Spark executor gives each task
 *                    {@code spark.task.cpus} threads this way)
 * @param memoryLimit bytes of session activation memory the predictor keeps planned, in use
 *                    and idle; least recently used idle sessions are closed to stay below it. 0 means
 *                    a quarter of the memory available when the predictor opens
 * @param session     how each session executes (full or streamed plans)
 * @param notes       receives what {@link Device#AUTO} picked and why, and what the device's backend
 *                    found when the predictor opened it (the GPU, cuBLASLt or its absence), once; by
 *                    default the {@link System.Logger} named after {@link Predictor} at INFO
 */
public record PredictorOptions(Device device, Precision precision, int concurrency, int threads, long memoryLimit, SessionOptions session,
                               Consumer<String> notes) {
    public static final PredictorOptions DEFAULT = new PredictorOptions(Device.AUTO, Precision.FP32, 0, 0, 0, SessionOptions.DEFAULT,
            note -> System.getLogger(Predictor.class.getName()).log(System.Logger.Level.INFO, note));

    /**
     * Checks the options.
     *
     * @throws NullPointerException if an object is null
     * @throws IllegalArgumentException if concurrency, threads or memoryLimit is negative
     */
    public PredictorOptions {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(precision, "precision");
        Objects.requireNonNull(session, "session");
        Objects.requireNonNull(notes, "notes");
        if (concurrency < 0) throw new IllegalArgumentException("concurrency must be >= 0 (0 = default), got " + concurrency);
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0 (0 = cores / concurrency), got " + threads);
        if (memoryLimit < 0) throw new IllegalArgumentException("memoryLimit must be >= 0 (0 = default), got " + memoryLimit);
    }

    /**
     * A copy with another device.
     *
     * @param d where sessions run
     * @return the new options
     */
    public PredictorOptions withDevice(Device d) {
        return new PredictorOptions(d, precision, concurrency, threads, memoryLimit, session, notes);
    }

    /**
     * A copy with another precision.
     *
     * @param p the arithmetic
     * @return the new options
     */
    public PredictorOptions withPrecision(Precision p) {
        return new PredictorOptions(device, p, concurrency, threads, memoryLimit, session, notes);
    }

    /**
     * A copy with another concurrency.
     *
     * @param c forwards at once; 0 for the default
     * @return the new options
     */
    public PredictorOptions withConcurrency(int c) {
        return new PredictorOptions(device, precision, c, threads, memoryLimit, session, notes);
    }

    /**
     * A copy with another number of OpenMP threads per forward.
     *
     * @param t threads of each forward on host devices; 0 for cores / concurrency
     * @return the new options
     */
    public PredictorOptions withThreads(int t) {
        return new PredictorOptions(device, precision, concurrency, t, memoryLimit, session, notes);
    }

    /**
     * A copy with another memory limit.
     *
     * @param bytes session memory kept planned; 0 for the default
     * @return the new options
     */
    public PredictorOptions withMemoryLimit(long bytes) {
        return new PredictorOptions(device, precision, concurrency, threads, bytes, session, notes);
    }

    /**
     * A copy with another session execution.
     *
     * @param s full or streamed plans
     * @return the new options
     */
    public PredictorOptions withSession(SessionOptions s) {
        return new PredictorOptions(device, precision, concurrency, threads, memoryLimit, s, notes);
    }

    /**
     * A copy with another notes receiver.
     *
     * @param n receives the notes instead of the System.Logger
     * @return the new options
     */
    public PredictorOptions withNotes(Consumer<String> n) {
        return new PredictorOptions(device, precision, concurrency, threads, memoryLimit, session, n);
    }
}
