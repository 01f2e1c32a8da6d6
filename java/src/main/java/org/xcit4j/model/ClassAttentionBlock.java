package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.Tensor;

/**
 * timm's ClassAttentionBlock (spec section 4), on x (B, T, C) with the cls token in row 0:
 * u = LN1(x); x += gamma1 * [ClassAttn(u); u[1:]]; then LN2 on every row (tokens_norm) or on
 * the cls row only; then x[0] += gamma2 * MLP(x[0]).
 */
record ClassAttentionBlock(LayerNorm norm1, ClassAttention attn, Tensor gamma1, LayerNorm norm2, Mlp mlp,
                           Tensor gamma2, boolean tokensNorm) {

    static ClassAttentionBlock load(WeightScope scope, XcitConfig config) {
        int c = config.embedDim();
        return new ClassAttentionBlock(LayerNorm.load(scope.child("norm1"), c),
                ClassAttention.load(scope.child("attn"), c, config.numHeads()), scope.tensor("gamma1", c),
                LayerNorm.load(scope.child("norm2"), c), Mlp.load(scope.child("mlp"), c, config.hiddenDim()),
                scope.tensor("gamma2", c), config.tokensNorm());
    }

    /** Scratch: u (B, T, C), the attention's buffers, clsOut (B, C), hidden (B, hidden). */
    record Buffers(Tensor u, ClassAttention.Buffers attn, Tensor clsOut, Tensor hidden) {
    }

    /** Updates x (B, T, C) in place; the attention weights (B, heads, T) go to {@code weights} unless null. */
    void forward(Backend backend, Tensor x, Tensor weights, Buffers buf) {
        Tensor cls = buf.attn().cls();
        norm1.forward(backend, buf.u(), x);
        backend.gatherRow(cls, buf.u(), 0);
        attn.forward(backend, buf.clsOut(), weights, buf.u(), buf.attn());
        // The patch rows receive gamma1 * LN1(x) too, exactly as the reference code does.
        backend.scatterRow(buf.u(), 0, buf.clsOut());
        backend.addScaled(x, buf.u(), gamma1);

        if (tokensNorm) {
            norm2.forward(backend, x, x);
            backend.gatherRow(cls, x, 0);
        } else {
            backend.gatherRow(cls, x, 0);
            norm2.forward(backend, cls, cls);
        }
        mlp.forward(backend, buf.clsOut(), cls, buf.hidden());
        backend.addScaled(cls, buf.clsOut(), gamma2);
        backend.scatterRow(x, 0, cls);
    }

    long parameters() {
        return norm1.parameters() + attn.parameters() + gamma1.numel() + norm2.parameters() + mlp.parameters()
                + gamma2.numel();
    }
}
