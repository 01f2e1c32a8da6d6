package org.xcit4j.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.xcit4j.tensor.Tensor;

/** Local patch interaction (dwconv3x3 - GELU - BN - dwconv3x3) on a channel-last token grid. */
public class LpiBenchmark extends OpState {
    /** Hp x Wp x C: small's 14x14 grid at 224 and 64x64 at 1024x1024, nano at 224. */
    @Param({"14x14x128", "14x14x384", "64x64x384"})
    public String shape;

    private Tensor out, in, weight1, bias1, bnScale, bnShift, weight2, bias2;
    private int gridH, gridW;

    @Setup
    public void setup() {
        int[] d = BenchSupport.dims(shape, 3, "HpxWpxC");
        open();
        gridH = d[0];
        gridW = d[1];
        int c = d[2];
        in = random(1, (long) gridH * gridW, c);
        out = random(1, (long) gridH * gridW, c);
        weight1 = random(c, 9);
        bias1 = random(c);
        bnScale = random(c);
        bnShift = random(c);
        weight2 = random(c, 9);
        bias2 = random(c);
    }

    @Benchmark
    public void lpi() {
        ops.lpi(out, in, gridH, gridW, weight1, bias1, bnScale, bnShift, weight2, bias2);
    }
}
