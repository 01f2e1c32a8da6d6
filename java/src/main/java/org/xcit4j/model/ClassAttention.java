package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * timm's ClassAttn: the cls row queries all T = N + 1 rows; softmax(q.k / sqrt d) per head,
 * then proj. k and v are kept as one (2C, C) Linear so one GEMM produces both on a backend
 * that computes them; backends that {@link Backend#foldsClassAttention() fold} class
 * attention never do (the folded form needs only the cls query and the rows).
 */
record ClassAttention(Linear q, Linear kv, Linear proj, int heads, Linear k, Linear v) {

    /** k and v are views of kv's rows [0, C) and [C, 2C), for the streamed stage's folded steps (made once: see {@link Xca}). */
    ClassAttention(Linear q, Linear kv, Linear proj, int heads) {
        this(q, kv, proj, heads, kv.rows(0, kv.weight().shape().dim(0) / 2),
                kv.rows(kv.weight().shape().dim(0) / 2, kv.weight().shape().dim(0)));
    }

    /** Keys {@code q.*}, {@code k.*}, {@code v.*} (timm naming), {@code proj.*}. */
    static ClassAttention load(WeightScope scope, int channels, int heads) {
        Linear k = Linear.load(scope.child("k"), channels, channels);
        Linear v = Linear.load(scope.child("v"), channels, channels);
        Tensor kvWeight = Tensor.allocate(scope.arena(), Shape.of(2L * channels, channels));
        Tensor kvBias = Tensor.allocate(scope.arena(), Shape.of(2L * channels));
        kvWeight.slice(0, channels).copyFrom(k.weight());
        kvWeight.slice(channels, 2L * channels).copyFrom(v.weight());
        kvBias.slice(0, channels).copyFrom(k.bias());
        kvBias.slice(channels, 2L * channels).copyFrom(v.bias());
        return new ClassAttention(Linear.load(scope.child("q"), channels, channels), new Linear(kvWeight, kvBias),
                Linear.load(scope.child("proj"), channels, channels), heads);
    }

    /**
     * Scratch: u0, q, attn (B, C) (u0 and q: what {@link Backend#classAttentionWithQuery}'s
     * default uses); kv (B, T, 2C), null on a backend that folds class attention.
     */
    record Buffers(Tensor u0, Tensor q, Tensor kv, Tensor attn) {
    }

    /**
     * x (B, C) += gamma * ClassAttn(u (B, T, C)): the cls rows' attention branch with its
     * residual update, the queries from u's row 0; the softmax weights go to {@code weights}
     * (B, heads, T) unless it is null. tmp (B, C) is scratch (Backend.linearAddScaled).
     */
    void forwardResidual(Backend backend, Tensor x, Tensor weights, Tensor u, Tensor gamma, Buffers buf, Tensor tmp) {
        backend.classAttentionWithQuery(buf.attn(), weights, u, q.weight(), q.bias(), kv.weight(), kv.bias(), heads,
                buf.u0(), buf.q(), buf.kv());
        backend.linearAddScaled(x, buf.attn(), proj.weight(), proj.bias(), gamma, tmp);
    }

    long parameters() {
        return q.parameters() + kv.parameters() + proj.parameters();
    }
}
