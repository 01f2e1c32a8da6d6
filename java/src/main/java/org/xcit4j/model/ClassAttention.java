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
     * Scratch: cls (B, C) holds the normalised cls row on entry; q, attn (B, C); kv (B, T, 2C),
     * null on a backend that folds class attention.
     */
    record Buffers(Tensor cls, Tensor q, Tensor kv, Tensor attn) {
    }

    /**
     * out (B, C) = ClassAttn(u (B, T, C)), where buf.cls() already holds u's row 0; the
     * softmax weights go to {@code weights} (B, heads, T) unless it is null.
     */
    void forward(Backend backend, Tensor out, Tensor weights, Tensor u, Buffers buf) {
        q.forward(backend, buf.q(), buf.cls());
        backend.classAttentionFromRows(buf.attn(), weights, buf.q(), u, kv.weight(), kv.bias(), heads, buf.kv());
        proj.forward(backend, out, buf.attn());
    }

    long parameters() {
        return q.parameters() + kv.parameters() + proj.parameters();
    }
}
