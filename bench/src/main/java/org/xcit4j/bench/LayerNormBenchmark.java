package org.xcit4j.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.xcit4j.tensor.Tensor;

/** LayerNorm over C of every token row (three per XCA block). */
public class LayerNormBenchmark extends OpState {
    /** rows x C: tokens of nano and small at 224, small at 1024x1024. */
    @Param({"196x128", "196x384", "4096x384"})
    public String shape;

    private Tensor out, in, gamma, beta;

    @Setup
    public void setup() {
        int[] d = BenchSupport.dims(shape, 2, "rowsxC");
        open();
        in = random(d[0], d[1]);
        out = random(d[0], d[1]);
        gamma = random(d[1]);
        beta = random(d[1]);
    }

    @Benchmark
    public void layerNorm() {
        ops.layerNorm(out, in, gamma, beta, 1e-6f);
    }
}
