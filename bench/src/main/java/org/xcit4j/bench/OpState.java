package org.xcit4j.bench;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.Tensor;

/**
 * What every per-op benchmark holds: the backend under test and one shared arena for its
 * operands, so that a benchmark's @Setup only creates tensors and its measured method only
 * calls the op (no allocation, no copy).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public abstract class OpState {
    /** java = the reference; cpu = the native backend (fails at setup where it is not built yet). */
    @Param({"java", "cpu"})
    public String backend;

    protected Backend ops;
    protected Arena arena;
    private final SplittableRandom random = new SplittableRandom(42);

    protected void open() {
        ops = BenchSupport.open(backend);
        arena = Arena.ofShared();
    }

    protected Tensor random(long... dims) {
        return BenchSupport.random(arena, random, dims);
    }

    @TearDown
    public void close() {
        if (arena != null) arena.close();
        if (ops != null) ops.close();
    }
}
