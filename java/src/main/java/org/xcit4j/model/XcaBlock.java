package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.Tensor;

/**
 * One XCA block (spec section 3):
 * x += gamma1 * XCA(LN1(x)); x += gamma3 * LPI(LN3(x)); x += gamma2 * MLP(LN2(x)).
 */
record XcaBlock(LayerNorm norm1, Xca attn, Tensor gamma1, LayerNorm norm3, Lpi localMp, Tensor gamma3,
                LayerNorm norm2, Mlp mlp, Tensor gamma2) {

    static XcaBlock load(WeightScope scope, XcitConfig config) {
        int c = config.embedDim();
        return new XcaBlock(LayerNorm.load(scope.child("norm1"), c), Xca.load(scope.child("attn"), c, config.numHeads()),
                scope.tensor("gamma1", c),
                LayerNorm.load(scope.child("norm3"), c), Lpi.load(scope.child("local_mp"), c), scope.tensor("gamma3", c),
                LayerNorm.load(scope.child("norm2"), c), Mlp.load(scope.child("mlp"), c, config.hiddenDim()),
                scope.tensor("gamma2", c));
    }

    /**
     * Scratch of one block: u, y, attn (B, N, C), qkv (B, N, 3C), hidden (B, N, hidden); y, attn
     * and qkv may be null where the backend does not use them (Backend.residualOpsUseTmp, xcaUsesBuffers).
     */
    record Buffers(Tensor u, Tensor y, Tensor attn, Tensor qkv, Tensor hidden) {
    }

    /** Updates the residual stream x (B, N, C) on the Hp x Wp grid in place. */
    void forward(Backend backend, Tensor x, int gridH, int gridW, Buffers buf) {
        // Each residual update goes through a fusable backend op (y is scratch for the unfused form).
        norm1.forward(backend, buf.u(), x);
        attn.forwardResidual(backend, x, buf.u(), gamma1, buf.qkv(), buf.attn(), buf.y());

        norm3.forward(backend, buf.u(), x);
        localMp.forwardResidual(backend, x, buf.u(), gridH, gridW, gamma3, buf.y());

        mlp.forwardNormResidual(backend, x, norm2, buf.u(), gamma2, buf.hidden(), buf.y());
    }

    long parameters() {
        return norm1.parameters() + attn.parameters() + gamma1.numel() + norm3.parameters() + localMp.parameters()
                + gamma3.numel() + norm2.parameters() + mlp.parameters() + gamma2.numel();
    }
}
