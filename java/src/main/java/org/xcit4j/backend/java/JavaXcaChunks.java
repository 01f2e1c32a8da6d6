package org.xcit4j.backend.java;

import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The Java reference of the streamed XCA ops ({@link Backend#xcaGram}, {@link Backend#xcaSoftmax}),
 * kept beside {@link JavaBackend} to keep that class small. Sums in double, as there.
 */
final class JavaXcaChunks {
    private JavaXcaChunks() {
    }

    static void gram(Tensor stats, Tensor qk, int heads, boolean accumulate) {
        int c2 = qk.shape().size(-1), c = c2 / 2, d = c / heads;
        if (c2 != 2 * c || c != heads * d) throw JavaBackend.shapeError("xcaGram qk", qk.shape(), "(M, 2C) with C divisible by " + heads);
        int m = Math.toIntExact(qk.numel() / c2);
        JavaBackend.requireShape(stats, Shape.of(heads, d, d + 2), "xcaGram stats");
        JavaBackend.parallel(heads, head -> {
            double[][] acc = new double[d][d + 2];
            for (int t = 0; t < m; t++) {
                long row = (long) t * c2;
                for (int i = 0; i < d; i++) {
                    double qi = qk.get(row + head * d + i);
                    double ki = qk.get(row + c + head * d + i);
                    acc[i][d] += qi * qi;
                    acc[i][d + 1] += ki * ki;
                    for (int j = 0; j < d; j++) acc[i][j] += qi * qk.get(row + c + head * d + j);
                }
            }
            long base = (long) head * d * (d + 2);
            for (int i = 0; i < d; i++) {
                for (int j = 0; j < d + 2; j++) {
                    long at = base + (long) i * (d + 2) + j;
                    stats.set(at, (float) ((accumulate ? stats.get(at) : 0) + acc[i][j]));
                }
            }
        }, stats, qk);
    }

    static void softmax(Tensor attn, Tensor stats, Tensor temperature) {
        Shape s = stats.shape();
        int heads = s.size(0), d = s.size(1), c = heads * d;
        if (s.rank() != 3 || s.size(2) != d + 2) throw JavaBackend.shapeError("xcaSoftmax stats", s, "(heads, d, d + 2)");
        JavaBackend.requireShape(attn, Shape.of(c, c), "xcaSoftmax attn");
        JavaBackend.requireNumel(temperature, heads, "xcaSoftmax temperature");
        attn.segment().fill((byte) 0);
        for (int head = 0; head < heads; head++) {
            long base = (long) head * d * (d + 2);
            double tau = temperature.get(head);
            double[] row = new double[d];
            for (int i = 0; i < d; i++) {
                double qNorm = Math.max(Math.sqrt(stats.get(base + (long) i * (d + 2) + d)), JavaBackend.NORM_EPS);
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < d; j++) {
                    double kNorm = Math.max(Math.sqrt(stats.get(base + (long) j * (d + 2) + d + 1)), JavaBackend.NORM_EPS);
                    row[j] = tau * stats.get(base + (long) i * (d + 2) + j) / (qNorm * kNorm);
                    max = Math.max(max, row[j]);
                }
                double sum = 0;
                for (int j = 0; j < d; j++) sum += row[j] = Math.exp(row[j] - max);
                for (int j = 0; j < d; j++) attn.set((long) (head * d + i) * c + head * d + j, (float) (row[j] / sum));
            }
        }
    }
}
