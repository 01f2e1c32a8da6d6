package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.Tensor;

/**
 * timm's PositionalEncodingFourier (spec section 2): 32 sin/cos features per axis of the
 * token grid, projected 64 -> C by a 1x1 conv with bias. It depends only on the grid, so a
 * session computes it once.
 */
final class FourierPosition {
    static final int HIDDEN = XcitConfig.POSITION_HIDDEN;
    private static final float TEMPERATURE = 10000f;
    private static final float SCALE = (float) (2 * Math.PI);
    private static final float EPS = 1e-6f;

    private final Linear projection;

    private FourierPosition(Linear projection) {
        this.projection = projection;
    }

    /** Keys {@code token_projection.weight} (C, 64, 1, 1) and {@code token_projection.bias}. */
    static FourierPosition load(WeightScope scope, int channels) {
        WeightScope p = scope.child("token_projection");
        Tensor weight = p.tensor("weight", channels, 2 * HIDDEN, 1, 1).reshape(channels, 2 * HIDDEN);
        return new FourierPosition(new Linear(weight, p.tensor("bias", channels)));
    }

    /**
     * The raw features (Hp*Wp, 64): y's 32 first, then x's, interleaved sin(p_0), cos(p_1), ...
     * Computed in float32 step by step as timm does, so rounding matches.
     */
    static void features(Tensor out, int gridH, int gridW) {
        features(out, gridH, gridW, 0, gridH);
    }

    /** The features of grid rows [rowFrom, rowTo) only, ((rowTo - rowFrom) * Wp, 64), for streamed sessions. */
    static void features(Tensor out, int gridH, int gridW, int rowFrom, int rowTo) {
        float[] freq = new float[HIDDEN];
        for (int j = 0; j < HIDDEN; j++) {
            freq[j] = (float) Math.pow(TEMPERATURE, (float) (2 * (j / 2)) / HIDDEN);
        }
        float yDen = gridH + EPS, xDen = gridW + EPS;
        for (int r = rowFrom; r < rowTo; r++) {
            float y = (r + 1) / yDen * SCALE;
            for (int c = 0; c < gridW; c++) {
                float x = (c + 1) / xDen * SCALE;
                long base = ((long) (r - rowFrom) * gridW + c) * 2 * HIDDEN;
                for (int j = 0; j < HIDDEN; j++) {
                    float py = y / freq[j], px = x / freq[j];
                    out.set(base + j, (float) ((j & 1) == 0 ? Math.sin(py) : Math.cos(py)));
                    out.set(base + HIDDEN + j, (float) ((j & 1) == 0 ? Math.sin(px) : Math.cos(px)));
                }
            }
        }
    }

    /** out (Hp*Wp, C) = projection of {@code features} (Hp*Wp, 64) filled by {@link #features}. */
    void project(Backend backend, Tensor out, Tensor features) {
        projection.forward(backend, out, features);
    }

    long parameters() {
        return projection.parameters();
    }
}
