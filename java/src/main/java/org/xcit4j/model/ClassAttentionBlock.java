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

    /**
     * Scratch: u (B, T, C); the attention's buffers; cls (B, C), the cls rows while the block
     * updates them (and after the last block); hidden (B, hidden); tmp (B, C).
     */
    record Buffers(Tensor u, ClassAttention.Buffers attn, Tensor cls, Tensor hidden, Tensor tmp) {
    }

    /**
     * Updates x (B, T, C) in place; the attention weights (B, heads, T) go to {@code weights}
     * unless null. The cls rows are updated in buf.cls() and written back to x's row 0 unless
     * {@code last}: after the last block only buf.cls() holds them (the head reads them there).
     */
    void forward(Backend backend, Tensor x, Tensor weights, Buffers buf, boolean last) {
        Tensor cls = buf.cls();
        // LN1 of every row into u; cls = x[:, 0]; the patch rows' whole update, since their
        // attention branch is u itself (exactly as the reference code), LN2 included with tokens_norm.
        backend.classAttentionRows(x, buf.u(), cls, norm1.weight(), norm1.bias(), gamma1,
                tokensNorm ? norm2.weight() : null, tokensNorm ? norm2.bias() : null, LayerNorm.EPS);
        attn.forwardResidual(backend, cls, weights, buf.u(), gamma1, buf.attn(), buf.tmp());
        // LN2 on the cls row (on every row with tokens_norm: the patch rows had theirs above).
        norm2.forward(backend, cls, cls);
        backend.linearGelu(buf.hidden(), cls, mlp.fc1().weight(), mlp.fc1().bias());
        backend.linearAddScaled(cls, buf.hidden(), mlp.fc2().weight(), mlp.fc2().bias(), gamma2, buf.tmp());
        if (!last) backend.scatterRow(x, 0, cls);
    }

    long parameters() {
        return norm1.parameters() + attn.parameters() + gamma1.numel() + norm2.parameters() + mlp.parameters()
                + gamma2.numel();
    }
}
