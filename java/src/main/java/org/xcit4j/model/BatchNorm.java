package org.xcit4j.model;

import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * An inference-mode BatchNorm2d (eps 1e-5, running statistics) reduced to its per-channel
 * affine y = x * scale + shift, computed in double and rounded once.
 */
record BatchNorm(Tensor scale, Tensor shift, long parameters) {
    static final double EPS = 1e-5;

    static BatchNorm load(WeightScope scope, int channels) {
        Tensor gamma = scope.tensor("weight", channels);
        Tensor beta = scope.tensor("bias", channels);
        Tensor mean = scope.tensor("running_mean", channels);
        Tensor var = scope.tensor("running_var", channels);
        Tensor scale = Tensor.allocate(scope.arena(), Shape.of(channels));
        Tensor shift = Tensor.allocate(scope.arena(), Shape.of(channels));
        for (int c = 0; c < channels; c++) {
            double s = gamma.get(c) / Math.sqrt(var.get(c) + EPS);
            scale.set(c, (float) s);
            shift.set(c, (float) (beta.get(c) - mean.get(c) * s));
        }
        return new BatchNorm(scale, shift, 2L * channels);
    }
}
