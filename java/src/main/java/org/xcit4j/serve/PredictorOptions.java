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
 * @param notes       receives what {@link Device#AUTO} picked and why
 */
public record PredictorOptions(Device device, Precision precision, int concurrency, int threads, long memoryLimit, SessionOptions session,
                               Consumer<String> notes) {
    public static final PredictorOptions DEFAULT = new PredictorOptions(Device.AUTO, Precision.FP32, 0, 0, 0, SessionOptions.DEFAULT,
            note -> System.err.println("xcit4j: " + note));

    public PredictorOptions {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(precision, "precision");
        Objects.requireNonNull(session, "session");
        Objects.requireNonNull(notes, "notes");
        if (concurrency < 0) throw new IllegalArgumentException("concurrency must be >= 0 (0 = default), got " + concurrency);
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0 (0 = cores / concurrency), got " + threads);
        if (memoryLimit < 0) throw new IllegalArgumentException("memoryLimit must be >= 0 (0 = default), got " + memoryLimit);
    }

    public PredictorOptions withDevice(Device d) {
        return new PredictorOptions(d, precision, concurrency, threads, memoryLimit, session, notes);
    }

    public PredictorOptions withPrecision(Precision p) {
        return new PredictorOptions(device, p, concurrency, threads, memoryLimit, session, notes);
    }

    public PredictorOptions withConcurrency(int c) {
        return new PredictorOptions(device, precision, c, threads, memoryLimit, session, notes);
    }

    public PredictorOptions withThreads(int t) {
        return new PredictorOptions(device, precision, concurrency, t, memoryLimit, session, notes);
    }

    public PredictorOptions withMemoryLimit(long bytes) {
        return new PredictorOptions(device, precision, concurrency, threads, bytes, session, notes);
    }

    public PredictorOptions withSession(SessionOptions s) {
        return new PredictorOptions(device, precision, concurrency, threads, memoryLimit, s, notes);
    }

    public PredictorOptions withNotes(Consumer<String> n) {
        return new PredictorOptions(device, precision, concurrency, threads, memoryLimit, session, n);
    }
}
