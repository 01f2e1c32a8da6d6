package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.Tensor;

/** torch.nn.Linear: y = x W^T + b with weight (out, in) and bias (out). */
record Linear(Tensor weight, Tensor bias) {

    static Linear load(WeightScope scope, int in, int out) {
        return new Linear(scope.tensor("weight", out, in), scope.tensor("bias", out));
    }

    /** out (M, outFeatures) = in (M, inFeatures) W^T + b. */
    void forward(Backend backend, Tensor out, Tensor in) {
        backend.linear(out, in, weight, bias);
    }

    /** Output features [from, to) of this Linear: views of those weight rows and bias entries. */
    Linear rows(long from, long to) {
        return new Linear(weight.slice(from, to), bias.slice(from, to));
    }

    long parameters() {
        return weight.numel() + bias.numel();
    }
}
