package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.Tensor;

/** fc1 (C -> hidden, bias) -> exact GELU -> fc2 (hidden -> C, bias). */
record Mlp(Linear fc1, Linear fc2) {

    static Mlp load(WeightScope scope, int channels, int hidden) {
        return new Mlp(Linear.load(scope.child("fc1"), channels, hidden), Linear.load(scope.child("fc2"), hidden, channels));
    }

    /** out (M, C) = MLP(in (M, C)), using hidden (M, hidden) as scratch. */
    void forward(Backend backend, Tensor out, Tensor in, Tensor hidden) {
        backend.linearGelu(hidden, in, fc1.weight(), fc1.bias());
        fc2.forward(backend, out, hidden);
    }

    /** x (M, C) += gamma * MLP(norm(x)); u (M, C), hidden (M, hidden) and tmp (M, C) are scratch. */
    void forwardNormResidual(Backend backend, Tensor x, LayerNorm norm, Tensor u, Tensor gamma, Tensor hidden, Tensor tmp) {
        backend.layerNormMlpAddScaled(x, u, norm.weight(), norm.bias(), LayerNorm.EPS, fc1.weight(), fc1.bias(), fc2.weight(),
                fc2.bias(), gamma, hidden, tmp);
    }

    long parameters() {
        return fc1.parameters() + fc2.parameters();
    }
}
