package org.xcit4j.bench;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.Precision;
import org.xcit4j.model.ModelZoo;
import org.xcit4j.model.Xcit;
import org.xcit4j.serve.Predictor;
import org.xcit4j.serve.PredictorOptions;
import org.xcit4j.tensor.Tensor;

/**
 * Server throughput: 1, 2 and 4 client threads calling one {@link Predictor} (batch-1
 * requests, a random-weight zoo model on the native CPU backend), for each threading model
 * of the predictor: {@code concurrency} forwards at once with cores / concurrency OpenMP
 * threads each (on 2 cores: 1 forward of 2 threads, or 2 forwards of 1 thread). JMH reports
 * requests per second summed over the client threads.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xss4m"})
public class PredictorBenchmark {
    @Param({"xcit_nano_12_p16"})
    public String model;

    @Param({"224x224"})
    public String size;

    /** Forwards at once (0 = the predictor's default, one per core). */
    @Param({"1", "2"})
    public int concurrency;

    @Param({"fp32"})
    public String precision;

    private Xcit net;
    private Predictor predictor;
    private Arena arena;
    private Tensor input;

    @Setup
    public void setup() {
        int[] hw = BenchSupport.dims(size, 2, "HxW");
        net = Xcit.random(ModelZoo.require(model).config(), 0);
        predictor = Predictor.of(net, PredictorOptions.DEFAULT.withDevice(Device.CPU).withConcurrency(concurrency)
                .withPrecision(Precision.parse(precision)).withNotes(note -> { }));
        arena = Arena.ofShared();
        input = BenchSupport.random(arena, new SplittableRandom(0), 1, 3, hw[0], hw[1]);
        predictor.logits(input); // plans the session before warm-up
    }

    @Benchmark
    @Threads(1)
    public float[][] clients1() {
        return predictor.logits(input);
    }

    @Benchmark
    @Threads(2)
    public float[][] clients2() {
        return predictor.logits(input);
    }

    @Benchmark
    @Threads(4)
    public float[][] clients4() {
        return predictor.logits(input);
    }

    @TearDown
    public void close() {
        if (predictor != null) predictor.close();
        if (net != null) net.close();
        if (arena != null) arena.close();
    }
}
