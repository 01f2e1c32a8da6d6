package org.xcit4j.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.xcit4j.tensor.Tensor;

/** out (M, O) = in (M, K) W^T + b: the GEMMs that are ~90% of XCiT's FLOPs. */
public class LinearBenchmark extends OpState {
    /**
     * M x K x O. xcit_small_12_p16 (C 384) at 224 (N 196): qkv, fc1, fc2, proj; at
     * 1024x1024 (N 4096): qkv and fc1.
     */
    @Param({"196x384x1152", "196x384x1536", "196x1536x384", "196x384x384", "4096x384x1152", "4096x384x1536"})
    public String shape;

    private Tensor out, in, weight, bias;

    @Setup
    public void setup() {
        int[] d = BenchSupport.dims(shape, 3, "MxKxO");
        open();
        in = random(d[0], d[1]);
        weight = random(d[2], d[1]);
        bias = random(d[2]);
        out = random(d[0], d[2]);
    }

    @Benchmark
    public void linear() {
        ops.linear(out, in, weight, bias);
    }
}
