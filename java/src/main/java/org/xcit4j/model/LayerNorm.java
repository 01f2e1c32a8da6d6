package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.Tensor;

/** torch.nn.LayerNorm over the channel axis; every LayerNorm in XCiT has eps 1e-6 and an affine. */
record LayerNorm(Tensor weight, Tensor bias) {
    static final float EPS = 1e-6f;

    static LayerNorm load(WeightScope scope, int channels) {
        return new LayerNorm(scope.tensor("weight", channels), scope.tensor("bias", channels));
    }

    void forward(Backend backend, Tensor out, Tensor in) {
        backend.layerNorm(out, in, weight, bias, EPS);
    }

    /** x += gamma * y, then out = LN(x): a residual branch's end and the next branch's norm. */
    void forwardAfterResidual(Backend backend, Tensor out, Tensor x, Tensor y, Tensor gamma) {
        backend.addScaledLayerNorm(x, out, y, gamma, weight, bias, EPS);
    }

    long parameters() {
        return weight.numel() + bias.numel();
    }
}
