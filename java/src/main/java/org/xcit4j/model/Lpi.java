package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.Tensor;

/**
 * Local patch interaction: depthwise conv3x3 -> GELU -> BatchNorm -> depthwise conv3x3 on the
 * token grid. The BatchNorm does not fold into conv2: conv2's zero padding applies to the
 * BatchNorm's output, so a fold would be wrong at the borders.
 */
record Lpi(Tensor weight1, Tensor bias1, BatchNorm bn, Tensor weight2, Tensor bias2) {

    /** Keys {@code conv1.*} (C, 1, 3, 3), {@code bn.*}, {@code conv2.*}. */
    static Lpi load(WeightScope scope, int channels) {
        return new Lpi(scope.child("conv1").tensor("weight", channels, 1, 3, 3), scope.child("conv1").tensor("bias", channels),
                BatchNorm.load(scope.child("bn"), channels),
                scope.child("conv2").tensor("weight", channels, 1, 3, 3), scope.child("conv2").tensor("bias", channels));
    }

    /** out (B, Hp*Wp, C) = LPI(in), on the Hp x Wp grid. */
    void forward(Backend backend, Tensor out, Tensor in, int gridH, int gridW) {
        backend.lpi(out, in, gridH, gridW, weight1, bias1, bn.scale(), bn.shift(), weight2, bias2);
    }

    /** x (B, Hp*Wp, C) += gamma * LPI(in); tmp (like in) is scratch. */
    void forwardResidual(Backend backend, Tensor x, Tensor in, int gridH, int gridW, Tensor gamma, Tensor tmp) {
        backend.lpiAddScaled(x, in, gridH, gridW, weight1, bias1, bn.scale(), bn.shift(), weight2, bias2, gamma, tmp);
    }

    long parameters() {
        return weight1.numel() + bias1.numel() + bn.parameters() + weight2.numel() + bias2.numel();
    }
}
