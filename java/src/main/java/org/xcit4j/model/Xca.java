package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.Tensor;

/**
 * Cross-covariance attention (spec section 3): qkv Linear (C -> 3C), per-head d x d attention
 * over channels with a learned temperature that multiplies the cosine similarities, proj Linear.
 */
record Xca(Linear qkv, Tensor temperature, Linear proj, int heads, Linear qk, Linear v) {

    /**
     * qk and v are views of qkv's rows [0, 2C) and [2C, 3C), for streamed blocks. Made once
     * here, so a backend that keys packed weights by tensor identity (CpuBackend) packs them
     * once per model, not once per run.
     */
    Xca(Linear qkv, Tensor temperature, Linear proj, int heads) {
        this(qkv, temperature, proj, heads, qkv.rows(0, 2 * qkv.weight().shape().dim(0) / 3),
                qkv.rows(2 * qkv.weight().shape().dim(0) / 3, qkv.weight().shape().dim(0)));
    }

    static Xca load(WeightScope scope, int channels, int heads) {
        return new Xca(Linear.load(scope.child("qkv"), channels, 3 * channels),
                scope.tensor("temperature", heads, 1, 1),
                Linear.load(scope.child("proj"), channels, channels), heads);
    }

    /** out (B, N, C) = XCA(in (B, N, C)); qkvBuf (B, N, 3C) and attnBuf (B, N, C) are scratch. */
    void forward(Backend backend, Tensor out, Tensor in, Tensor qkvBuf, Tensor attnBuf) {
        qkv.forward(backend, qkvBuf, in);
        backend.xca(attnBuf, qkvBuf, temperature, heads);
        proj.forward(backend, out, attnBuf);
    }

    /** x (B, N, C) += gamma * XCA(in); qkvBuf, attnBuf and tmp (B, N, C) are scratch. */
    void forwardResidual(Backend backend, Tensor x, Tensor in, Tensor gamma, Tensor qkvBuf, Tensor attnBuf, Tensor tmp) {
        backend.xcaAddScaled(x, in, qkv.weight(), qkv.bias(), temperature, heads, proj.weight(), proj.bias(), gamma,
                qkvBuf, attnBuf, tmp);
    }

    long parameters() {
        return qkv.parameters() + temperature.numel() + proj.parameters();
    }
}
