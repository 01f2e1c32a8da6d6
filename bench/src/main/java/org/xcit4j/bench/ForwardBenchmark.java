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
import org.openjdk.jmh.annotations.Warmup;
import org.xcit4j.backend.Backend;
import org.xcit4j.model.ModelZoo;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.tensor.Tensor;

/**
 * The whole classification forward, batch 1, on a random-weight zoo model: what `xcit bench`
 * and the peer script time, here under JMH's control of forks and warm-up. The java
 * reference takes seconds at 224 and minutes at 1024x1024: pick cases with -p.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xss4m"})
public class ForwardBenchmark {
    @Param({"xcit_nano_12_p16", "xcit_small_12_p16"})
    public String model;

    /** Height x width: the training size and the high-resolution case of issue 3. */
    @Param({"224x224", "1024x1024"})
    public String size;

    @Param({"java", "cpu"})
    public String backend;

    private Backend ops;
    private Xcit net;
    private Session session;
    private Arena arena;
    private Tensor input;

    @Setup
    public void setup() {
        int[] hw = BenchSupport.dims(size, 2, "HxW");
        ops = BenchSupport.open(backend);
        net = Xcit.random(ModelZoo.require(model).config(), 0);
        session = net.session(ops, 1, hw[0], hw[1]);
        arena = Arena.ofShared();
        input = BenchSupport.random(arena, new SplittableRandom(0), 1, 3, hw[0], hw[1]);
    }

    /** The logits view is returned so that JMH consumes it; it is the session's, nothing is allocated. */
    @Benchmark
    public Tensor forward() {
        return session.run(input).logits();
    }

    @TearDown
    public void close() {
        if (session != null) session.close();
        if (net != null) net.close();
        if (arena != null) arena.close();
        if (ops != null) ops.close();
    }
}
