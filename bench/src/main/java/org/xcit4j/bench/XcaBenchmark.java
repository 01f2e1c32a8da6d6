package org.xcit4j.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.xcit4j.tensor.Tensor;

/** The XCA core (norms, per-head d x d Gram, softmax, application) from qkv (B, N, 3C). */
public class XcaBenchmark extends OpState {
    /** N x C x heads: nano (128, 4 heads) and small (384, 8 heads) at 224, small at 1024x1024. */
    @Param({"196x128x4", "196x384x8", "4096x384x8"})
    public String shape;

    private Tensor out, qkv, temperature;
    private int heads;

    @Setup
    public void setup() {
        int[] d = BenchSupport.dims(shape, 3, "NxCxheads");
        open();
        heads = d[2];
        qkv = random(1, d[0], 3L * d[1]);
        temperature = random(heads);
        out = random(1, d[0], d[1]);
    }

    @Benchmark
    public void xca() {
        ops.xca(out, qkv, temperature, heads);
    }
}
