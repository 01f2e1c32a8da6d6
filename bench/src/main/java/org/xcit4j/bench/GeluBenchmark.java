package org.xcit4j.bench;

import java.lang.foreign.MemorySegment;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.xcit4j.tensor.Tensor;

/** Exact (erf) GELU in place on the MLP's hidden activations. */
public class GeluBenchmark extends OpState {
    /** rows x hidden: small's MLP (4C = 1536) at 224 and at 1024x1024. */
    @Param({"196x1536", "4096x1536"})
    public String shape;

    private Tensor x, pristine;

    @Setup
    public void setup() {
        int[] d = BenchSupport.dims(shape, 2, "rowsxhidden");
        open();
        pristine = random(d[0], d[1]);
        x = random(d[0], d[1]);
    }

    /**
     * GELU works in place and shrinks small values towards zero: applied over and over, the
     * buffer would end up denormal and time something else. Each call gets fresh values, as
     * in the forward where fc1 has just written them (so they are in cache there too).
     */
    @Setup(Level.Invocation)
    public void refill() {
        MemorySegment.copy(pristine.segment(), 0, x.segment(), 0, x.segment().byteSize());
    }

    @Benchmark
    public void gelu() {
        ops.gelu(x);
    }
}
