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
        fc1.forward(backend, hidden, in);
        backend.gelu(hidden);
        fc2.forward(backend, out, hidden);
    }

    long parameters() {
        return fc1.parameters() + fc2.parameters();
    }
}
