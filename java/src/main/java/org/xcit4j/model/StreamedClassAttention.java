package org.xcit4j.model;

import java.util.List;
import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.MemoryPlan;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The class-attention stage (spec section 4) over chunks of token rows, for streamed
 * sessions: besides the trunk's residual stream it keeps the cls rows (B, C), the scores
 * (B, heads, N + 1) and buffers for one chunk, never (B, N + 1, C) copies of the tokens.
 *
 * <p>The blocks change the patch rows only row by row (x + gamma1 * LN1(x), then LN2 when
 * tokens_norm), and the cls row reads them only through k and v of its attention, which the
 * backend folds away ({@link Backend#foldsClassAttention}): the scores need only u . K'_h with
 * K' = the cls query times Wk, and the output only Wv ubar_h with ubar_h = sum_t a_t u_t. So,
 * per image and block l:
 * <ol>
 * <li>the cls row's u = LN1(cls), q, and the folded keys K' (heads, C + 1); per chunk: the
 *     patch rows as block l sees them, recomputed from the trunk's tokens through blocks
 *     0..l-1 (row-local), u = LN1, and the scores u . K'_h into columns of the (heads, N + 1)
 *     scores (the cls row's own column first);</li>
 * <li>softmax over all N + 1 columns (the weights; the last block's are the cls-attn output);</li>
 * <li>per chunk: the rows again and ubar (heads, C) += their weighted sum; then the values'
 *     projection once, Wv ubar + bv;</li>
 * <li>cls += gamma1 * proj(that); cls = LN2(cls); cls += gamma2 * MLP(cls).</li>
 * </ol>
 * Recomputing the chain costs a few LayerNorms per row; no k or v row is ever computed. The
 * trunk's tokens are only read, so the tokens output is the same as in the full stage.
 */
final class StreamedClassAttention {
    private final Xcit model;
    private final Backend backend;
    private final int batch;
    private final long tokens, channels, chunk;
    private final int heads;
    private Tensor cls, weights, uc, q, keys, ubar, attnOut, clsOut, hidden, p, u;

    /** {@code chunk} token rows per step (at least 1). */
    StreamedClassAttention(Xcit model, Backend backend, int batch, long tokens, long chunk) {
        XcitConfig cfg = model.config();
        this.model = model;
        this.backend = backend;
        this.batch = batch;
        this.tokens = tokens;
        this.channels = cfg.embedDim();
        this.heads = cfg.numHeads();
        this.chunk = Math.max(1, Math.min(chunk, tokens));
    }

    /**
     * The stage's buffers at plan step {@code step}; the cls rows "cls" (B, C) stay until
     * {@code lastStep}, the weights "clsWeights" (B, heads, N + 1) are those of the last block.
     */
    void declare(MemoryPlan.Builder plan, int step, int lastStep) {
        long c = channels, t = tokens + 1;
        plan.add("cls", Shape.of(batch, c), step, lastStep)
                .add("clsWeights", Shape.of(batch, heads, t), step, step)
                .add("sc.uc", Shape.of(1, c), step, step)
                .add("sc.q", Shape.of(1, c), step, step)
                .add("sc.keys", Shape.of(heads, c + 1), step, step)
                .add("sc.ubar", Shape.of(heads, c), step, step)
                .add("sc.attn", Shape.of(1, c), step, step)
                .add("sc.clsOut", Shape.of(1, c), step, step)
                .add("sc.hidden", Shape.of(1, model.config().hiddenDim()), step, step)
                .add("sc.p", Shape.of(chunk, c), step, step)
                .add("sc.u", Shape.of(chunk, c), step, step);
    }

    void bind(MemoryPlan plan) {
        cls = plan.tensor("cls");
        weights = plan.tensor("clsWeights");
        uc = plan.tensor("sc.uc");
        q = plan.tensor("sc.q");
        keys = plan.tensor("sc.keys");
        ubar = plan.tensor("sc.ubar");
        attnOut = plan.tensor("sc.attn");
        clsOut = plan.tensor("sc.clsOut");
        hidden = plan.tensor("sc.hidden");
        p = plan.tensor("sc.p");
        u = plan.tensor("sc.u");
    }

    /** The cls rows (B, C) after the stage. */
    Tensor cls() {
        return cls;
    }

    /** The last block's attention weights (B, heads, N + 1). */
    Tensor weights() {
        return weights;
    }

    /** Runs the stage on the trunk's residual stream (B, N, C), which it only reads. */
    void forward(Tensor trunkTokens) {
        List<ClassAttentionBlock> blocks = model.clsBlocks();
        long c = channels, t = tokens + 1;
        for (int img = 0; img < batch; img++) {
            Tensor x = trunkTokens.slice(img, img + 1).reshape(tokens, c);
            Tensor row = cls.slice(img, img + 1);
            Tensor w = weights.slice(img, img + 1).reshape(heads, t);
            DataMoves.copy(backend, row, model.clsToken());
            for (int l = 0; l < blocks.size(); l++) {
                ClassAttentionBlock block = blocks.get(l);
                ClassAttention attn = block.attn();
                block.norm1().forward(backend, uc, row);
                attn.q().forward(backend, q, uc);
                backend.classAttentionFoldQuery(keys, q, attn.k().weight(), attn.k().bias());
                backend.classAttentionFoldedScores(w, 0, keys, uc);
                for (long n0 = 0; n0 < tokens; n0 += chunk) {
                    long n1 = Math.min(tokens, n0 + chunk);
                    backend.classAttentionFoldedScores(w, 1 + n0, keys, rowsAsBlockSees(blocks, l, x, n0, n1));
                }
                backend.softmaxRows(w);
                backend.classAttentionFoldedSum(ubar, w, 0, uc, false);
                for (long n0 = 0; n0 < tokens; n0 += chunk) {
                    long n1 = Math.min(tokens, n0 + chunk);
                    backend.classAttentionFoldedSum(ubar, w, 1 + n0, rowsAsBlockSees(blocks, l, x, n0, n1), true);
                }
                backend.classAttentionFoldedOut(attnOut, ubar, attn.v().weight(), attn.v().bias());
                attn.proj().forward(backend, clsOut, attnOut);
                backend.addScaled(row, clsOut, block.gamma1());
                // LN2 on the cls row: with tokens_norm it runs on every row, without on the cls row only.
                block.norm2().forward(backend, row, row);
                block.mlp().forward(backend, clsOut, row, hidden);
                backend.addScaled(row, clsOut, block.gamma2());
            }
        }
    }

    /**
     * u = LN1 of block l over patch rows [n0, n1) as block l receives them: the trunk's rows
     * through the row-local part of blocks 0..l-1 (x += gamma1 * LN1(x), then LN2 when
     * tokens_norm). Returns the (n1 - n0, C) view of the u buffer.
     */
    private Tensor rowsAsBlockSees(List<ClassAttentionBlock> blocks, int l, Tensor x, long n0, long n1) {
        long m = n1 - n0;
        Tensor ub = u.slice(0, m), src = x.slice(n0, n1);
        if (l > 0) {
            Tensor pb = p.slice(0, m);
            DataMoves.copy(backend, pb, src);
            for (int j = 0; j < l; j++) {
                ClassAttentionBlock before = blocks.get(j);
                before.norm1().forward(backend, ub, pb);
                backend.addScaled(pb, ub, before.gamma1());
                if (before.tokensNorm()) before.norm2().forward(backend, pb, pb);
            }
            src = pb;
        }
        blocks.get(l).norm1().forward(backend, ub, src);
        return ub;
    }
}
