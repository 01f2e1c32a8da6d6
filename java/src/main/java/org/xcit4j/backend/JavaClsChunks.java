package org.xcit4j.backend;

import org.xcit4j.tensor.Tensor;

/**
 * The Java reference of the streamed class-attention ops ({@link Backend#classAttentionScores},
 * {@link Backend#softmaxRows}, {@link Backend#classAttentionApply}), beside
 * {@link JavaXcaChunks}. Sums in double, as in {@link JavaBackend}.
 */
final class JavaClsChunks {
    private JavaClsChunks() {
    }

    /** Heads and T of a (heads, T) scores or weights buffer, checked against M rows at {@code offset}. */
    private static void checkColumns(String op, Tensor scores, long offset, long rows) {
        if (scores.shape().rank() != 2) throw JavaBackend.shapeError(op + " scores", scores.shape(), "(heads, T)");
        long t = scores.shape().dim(1);
        if (offset < 0 || offset + rows > t) {
            throw new IllegalArgumentException(op + ": rows [" + offset + ", " + (offset + rows) + ") outside T = " + t);
        }
    }

    /** Rows of a (M, C) matrix; C divisible by heads. */
    private static long rows(String op, Tensor m, long c, int heads) {
        if (c < 1 || m.numel() % c != 0 || c % heads != 0) {
            throw JavaBackend.shapeError(op, m.shape(), "(M, " + c + ") with C divisible by " + heads);
        }
        return m.numel() / c;
    }

    static void scores(Tensor scores, long offset, Tensor q, Tensor k) {
        int heads = scores.shape().size(0), c = Math.toIntExact(q.numel());
        int m = Math.toIntExact(rows("classAttentionScores k", k, c, heads)), d = c / heads;
        checkColumns("classAttentionScores", scores, offset, m);
        long t = scores.shape().dim(1);
        double scale = 1 / Math.sqrt(d);
        JavaBackend.parallel(heads, h -> {
            for (int row = 0; row < m; row++) {
                double dot = 0;
                for (int i = 0; i < d; i++) dot += (double) q.get(h * d + i) * k.get((long) row * c + h * d + i);
                scores.set(h * t + offset + row, (float) (dot * scale));
            }
        }, scores, q, k);
    }

    static void softmaxRows(Tensor x) {
        long cols = x.shape().dim(-1), rows = cols == 0 ? 0 : x.numel() / cols;
        JavaBackend.parallel(Math.toIntExact(rows), r -> {
            long base = r * cols;
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (long j = 0; j < cols; j++) max = Math.max(max, x.get(base + j));
            for (long j = 0; j < cols; j++) sum += Math.exp(x.get(base + j) - max);
            for (long j = 0; j < cols; j++) x.set(base + j, (float) (Math.exp(x.get(base + j) - max) / sum));
        }, x);
    }

    static void apply(Tensor out, Tensor weights, long offset, Tensor v, boolean accumulate) {
        int heads = weights.shape().size(0), c = Math.toIntExact(out.numel());
        int m = Math.toIntExact(rows("classAttentionApply v", v, c, heads)), d = c / heads;
        checkColumns("classAttentionApply", weights, offset, m);
        long t = weights.shape().dim(1);
        JavaBackend.parallel(heads, h -> {
            for (int i = 0; i < d; i++) {
                double acc = accumulate ? out.get(h * d + i) : 0;
                for (int row = 0; row < m; row++) acc += (double) weights.get(h * t + offset + row) * v.get((long) row * c + h * d + i);
                out.set(h * d + i, (float) acc);
            }
        }, out, weights, v);
    }
}
