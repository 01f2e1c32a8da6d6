package org.xcit4j.backend.java;

import java.lang.foreign.MemorySegment;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The Java reference of folded class attention ({@link Backend#foldsClassAttention}): the
 * steps the streamed stage runs chunk by chunk ({@link Backend#classAttentionFoldQuery},
 * {@link Backend#classAttentionFoldedScores}, {@link Backend#softmaxRows},
 * {@link Backend#classAttentionFoldedSum}, {@link Backend#classAttentionFoldedOut}) and
 * {@link Backend#classAttentionFromRows}, which is those steps over all T rows at once.
 * Sums in double, as in {@link JavaBackend}; the steps' results are float32 tensors.
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

    /** Rows of a (M, C) chunk. */
    private static int rows(String op, Tensor m, long c) {
        if (c < 1 || m.numel() % c != 0) throw JavaBackend.shapeError(op, m.shape(), "(M, " + c + ")");
        return Math.toIntExact(m.numel() / c);
    }

    /** d = C / heads, checked. */
    private static int headDim(String op, long c, long heads) {
        if (heads < 1 || c % heads != 0) throw new IllegalArgumentException(op + ": C = " + c + " not divisible by heads = " + heads);
        return Math.toIntExact(c / heads);
    }

    static void foldQuery(Tensor keys, Tensor q, Tensor kWeight, Tensor kBias) {
        int c = Math.toIntExact(q.numel()), heads = keys.shape().size(0), d = headDim("classAttentionFoldQuery", c, heads);
        JavaBackend.requireShape(keys, Shape.of(heads, c + 1L), "classAttentionFoldQuery keys");
        JavaBackend.requireShape(kWeight, Shape.of(c, c), "classAttentionFoldQuery kWeight");
        if (kBias != null) JavaBackend.requireNumel(kBias, c, "classAttentionFoldQuery kBias");
        double scale = 1 / Math.sqrt(d);
        JavaBackend.parallel(heads, h -> {
            long row = (long) h * (c + 1);
            for (int i = 0; i < c; i++) {
                double acc = 0;
                for (int j = 0; j < d; j++) acc += (double) q.get(h * d + j) * kWeight.get((long) (h * d + j) * c + i);
                keys.set(row + i, (float) (acc * scale));
            }
            double bias = 0;
            for (int j = 0; kBias != null && j < d; j++) bias += (double) q.get(h * d + j) * kBias.get(h * d + j);
            keys.set(row + c, (float) (bias * scale));
        }, keys, q, kWeight, kBias == null ? q : kBias);
    }

    static void foldedScores(Tensor scores, long offset, Tensor keys, Tensor u) {
        int heads = scores.shape().size(0), c = keys.shape().size(-1) - 1;
        JavaBackend.requireShape(keys, Shape.of(heads, c + 1L), "classAttentionFoldedScores keys");
        int m = rows("classAttentionFoldedScores u", u, c);
        checkColumns("classAttentionFoldedScores", scores, offset, m);
        long t = scores.shape().dim(1);
        JavaBackend.parallel(heads, h -> {
            long key = (long) h * (c + 1);
            for (int row = 0; row < m; row++) {
                double dot = keys.get(key + c);
                for (int i = 0; i < c; i++) dot += (double) u.get((long) row * c + i) * keys.get(key + i);
                scores.set(h * t + offset + row, (float) dot);
            }
        }, scores, keys, u);
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

    static void foldedSum(Tensor ubar, Tensor weights, long offset, Tensor u, boolean accumulate) {
        int heads = weights.shape().size(0), c = ubar.shape().size(-1);
        JavaBackend.requireShape(ubar, Shape.of(heads, c), "classAttentionFoldedSum ubar");
        int m = rows("classAttentionFoldedSum u", u, c);
        checkColumns("classAttentionFoldedSum", weights, offset, m);
        long t = weights.shape().dim(1);
        JavaBackend.parallel(heads, h -> {
            for (int i = 0; i < c; i++) {
                double acc = accumulate ? ubar.get((long) h * c + i) : 0;
                for (int row = 0; row < m; row++) acc += (double) weights.get(h * t + offset + row) * u.get((long) row * c + i);
                ubar.set((long) h * c + i, (float) acc);
            }
        }, ubar, weights, u);
    }

    static void foldedOut(Tensor out, Tensor ubar, Tensor vWeight, Tensor vBias) {
        int c = Math.toIntExact(out.numel()), heads = ubar.shape().size(0), d = headDim("classAttentionFoldedOut", c, heads);
        JavaBackend.requireShape(ubar, Shape.of(heads, c), "classAttentionFoldedOut ubar");
        JavaBackend.requireShape(vWeight, Shape.of(c, c), "classAttentionFoldedOut vWeight");
        if (vBias != null) JavaBackend.requireNumel(vBias, c, "classAttentionFoldedOut vBias");
        JavaBackend.parallel(c, r -> {
            long h = r / d;
            double acc = vBias == null ? 0 : vBias.get(r);
            for (int i = 0; i < c; i++) acc += (double) vWeight.get((long) r * c + i) * ubar.get(h * c + i);
            out.set(r, (float) acc);
        }, out, ubar, vWeight, vBias == null ? out : vBias);
    }

    /** The whole op: the steps over all T rows of each image, in heap scratch. */
    static void fromRows(Tensor out, Tensor weights, Tensor q, Tensor u, Tensor kvWeight, Tensor kvBias, int heads) {
        Shape s = u.shape();
        if (s.rank() != 3) throw JavaBackend.shapeError("classAttentionFromRows u", s, "(B, T, C)");
        int b = s.size(0), t = s.size(1), c = s.size(2);
        headDim("classAttentionFromRows", c, heads);
        JavaBackend.requireShape(q, Shape.of(b, c), "classAttentionFromRows q");
        JavaBackend.requireShape(out, Shape.of(b, c), "classAttentionFromRows out");
        if (weights != null) JavaBackend.requireShape(weights, Shape.of(b, heads, t), "classAttentionFromRows weights");
        JavaBackend.requireShape(kvWeight, Shape.of(2L * c, c), "classAttentionFromRows kvWeight");
        if (kvBias != null) JavaBackend.requireNumel(kvBias, 2L * c, "classAttentionFromRows kvBias");
        Tensor kWeight = kvWeight.slice(0, c), vWeight = kvWeight.slice(c, 2L * c);
        Tensor kBias = kvBias == null ? null : kvBias.slice(0, c), vBias = kvBias == null ? null : kvBias.slice(c, 2L * c);
        Tensor keys = heap(Shape.of(heads, c + 1L)), ubar = heap(Shape.of(heads, c));
        Tensor ownScores = weights == null ? heap(Shape.of(heads, t)) : null;
        for (int img = 0; img < b; img++) {
            Tensor rows = u.slice(img, img + 1).reshape(t, c);
            Tensor scores = weights == null ? ownScores : weights.slice(img, img + 1).reshape(heads, t);
            foldQuery(keys, q.slice(img, img + 1).reshape(c), kWeight, kBias);
            foldedScores(scores, 0, keys, rows);
            softmaxRows(scores);
            foldedSum(ubar, scores, 0, rows, false);
            foldedOut(out.slice(img, img + 1).reshape(c), ubar, vWeight, vBias);
        }
    }

    private static Tensor heap(Shape shape) {
        return Tensor.wrap(MemorySegment.ofArray(new float[Math.toIntExact(shape.numel())]), shape);
    }
}
