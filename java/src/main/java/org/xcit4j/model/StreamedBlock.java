package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.MemoryPlan;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * One XCA block over bands of token rows of one image at a time, with buffers for one band
 * (DESIGN.md section 4). XCA needs sums over all tokens before any token can be updated, LPI
 * needs a 2-row neighbourhood, everything else is per token, hence three passes:
 * <ol>
 * <li>per band: u = LN1(x), q|k = u W_qk^T + b_qk, accumulate the Gram matrices and squared
 *     norms ({@link Backend#xcaGram}); then the block-diagonal attention ({@link Backend#xcaSoftmax});</li>
 * <li>per band: u = LN1(x) again, v = u W_v^T + b_v, x += gamma1 * proj(v A^T): recomputing
 *     LN1 and the q/k/v projections costs 1 C^2 per token over the full block's 3, and saves
 *     keeping q, k, v (3 N C) alive;</li>
 * <li>per band [r0, r1): LPI reads LN3(x) on rows [r0 - 2, r1 + 2) (two 3x3 convs); rows
 *     below r0 were already updated by the previous band, so their LN3 values are kept from
 *     before that update in a 2-row carry. Then x += gamma3 * LPI, x += gamma2 * MLP(LN2(x)).</li>
 * </ol>
 * A backend that {@link Backend#foldsStreamedXca folds} XCA at this many tokens replaces
 * passes 1 and 2 by the covariance route: pass 1 accumulates u^T u and the column sums of
 * u = LN1(x) ({@link Backend#xcaCovAccumulate}), the branch folds into one C x C Linear per
 * image ({@link Backend#xcaCovFold}), and pass 2 recomputes u and adds u W'^T + b'
 * ({@link Backend#xcaCovApply}): no q, k or v at all.
 * The LPI op zero-pads at the band's edges; only the halo's own outputs see that padding, and
 * they are dropped.
 */
final class StreamedBlock {
    static final int HALO = 2;

    /** Buffers for one band: names of the plan entries, declared by {@link #declare}. */
    record Buffers(Tensor u, Tensor qk, Tensor y, Tensor hidden, Tensor stats, Tensor attention, Tensor carry,
                   Tensor covariance, Tensor folded) {
    }

    private StreamedBlock() {
    }

    static void declare(MemoryPlan.Builder p, XcitConfig cfg, int bandRows, int gridW, int step) {
        long c = cfg.embedDim(), band = (long) bandRows * gridW, haloBand = (long) (bandRows + 2 * HALO) * gridW;
        p.add("sb.u", Shape.of(haloBand, c), step, step)
                .add("sb.qk", Shape.of(band, 2 * c), step, step)
                .add("sb.y", Shape.of(haloBand, c), step, step)
                .add("sb.hidden", Shape.of(band, cfg.hiddenDim()), step, step)
                .add("sb.stats", Shape.of(cfg.numHeads(), cfg.headDim(), cfg.headDim() + 2), step, step)
                .add("sb.attention", Shape.of(c, c), step, step)
                .add("sb.carry", Shape.of((long) HALO * gridW, c), step, step)
                .add("sb.covariance", Shape.of(c + 1, c), step, step)
                .add("sb.folded", Shape.of(c + 1, c), step, step);
    }

    static Buffers bind(MemoryPlan plan) {
        return new Buffers(plan.tensor("sb.u"), plan.tensor("sb.qk"), plan.tensor("sb.y"), plan.tensor("sb.hidden"),
                plan.tensor("sb.stats"), plan.tensor("sb.attention"), plan.tensor("sb.carry"), plan.tensor("sb.covariance"),
                plan.tensor("sb.folded"));
    }

    /** Updates one image's residual stream x (Hp * Wp, C) in place. */
    static void forward(Backend backend, XcaBlock block, Tensor x, int gridH, int gridW, int bandRows, Buffers buf) {
        if (backend.foldsStreamedXca((long) gridH * gridW, x.shape().dim(1))) {
            foldedAttention(backend, block, x, gridH, gridW, bandRows, buf);
        } else {
            directAttention(backend, block, x, gridH, gridW, bandRows, buf);
        }
        localAndMlp(backend, block, x, gridH, gridW, bandRows, buf);
    }

    /** Passes 1 and 2 by the covariance route (see the class comment). */
    private static void foldedAttention(Backend backend, XcaBlock block, Tensor x, int gridH, int gridW, int bandRows, Buffers buf) {
        Xca attn = block.attn();
        for (int r0 = 0; r0 < gridH; r0 += bandRows) {
            int r1 = Math.min(gridH, r0 + bandRows);
            Tensor u = rows(buf.u(), (long) (r1 - r0) * gridW);
            block.norm1().forward(backend, u, band(x, gridW, r0, r1));
            backend.xcaCovAccumulate(buf.covariance(), u, r0 > 0);
        }
        backend.xcaCovFold(buf.folded(), buf.covariance(), (long) gridH * gridW, attn.qkv().weight(), attn.qkv().bias(),
                attn.temperature(), attn.heads(), attn.proj().weight(), attn.proj().bias(), block.gamma1());
        for (int r0 = 0; r0 < gridH; r0 += bandRows) {
            int r1 = Math.min(gridH, r0 + bandRows);
            Tensor xb = band(x, gridW, r0, r1), u = rows(buf.u(), (long) (r1 - r0) * gridW);
            block.norm1().forward(backend, u, xb);
            backend.xcaCovApply(xb, u, buf.folded());
        }
    }

    /** Passes 1 and 2 by Gram matrices and q/k/v of each band (see the class comment). */
    private static void directAttention(Backend backend, XcaBlock block, Tensor x, int gridH, int gridW, int bandRows, Buffers buf) {
        Xca attn = block.attn();
        long c = x.shape().dim(1);
        Linear qk = attn.qk(), v = attn.v();
        for (int r0 = 0; r0 < gridH; r0 += bandRows) {
            int r1 = Math.min(gridH, r0 + bandRows);
            Tensor u = rows(buf.u(), (long) (r1 - r0) * gridW);
            Tensor q = rows(buf.qk(), (long) (r1 - r0) * gridW);
            block.norm1().forward(backend, u, band(x, gridW, r0, r1));
            qk.forward(backend, q, u);
            backend.xcaGram(buf.stats(), q, attn.heads(), r0 > 0);
        }
        backend.xcaSoftmax(buf.attention(), buf.stats(), attn.temperature());

        for (int r0 = 0; r0 < gridH; r0 += bandRows) {
            int r1 = Math.min(gridH, r0 + bandRows);
            long m = (long) (r1 - r0) * gridW;
            Tensor xb = band(x, gridW, r0, r1), u = rows(buf.u(), m), y = rows(buf.y(), m);
            // v and the attended values share the q|k buffer, which this pass does not need.
            Tensor flat = buf.qk().reshape(buf.qk().numel());
            Tensor vb = flat.slice(0, m * c).reshape(m, c), av = flat.slice(m * c, 2 * m * c).reshape(m, c);
            block.norm1().forward(backend, u, xb);
            v.forward(backend, vb, u);
            backend.xcaApply(av, vb, buf.attention(), attn.heads());
            attn.proj().forward(backend, y, av);
            backend.addScaled(xb, y, block.gamma1());
        }
    }

    /** Pass 3: LPI with its 2-row halo, then the MLP, band by band. */
    private static void localAndMlp(Backend backend, XcaBlock block, Tensor x, int gridH, int gridW, int bandRows, Buffers buf) {
        Lpi lpi = block.localMp();
        for (int r0 = 0; r0 < gridH; r0 += bandRows) {
            int r1 = Math.min(gridH, r0 + bandRows);
            int lo = Math.max(0, r0 - HALO), hi = Math.min(gridH, r1 + HALO);
            Tensor in = rows(buf.u(), (long) (hi - lo) * gridW), out = rows(buf.y(), (long) (hi - lo) * gridW);
            if (r0 > lo) DataMoves.copy(backend, in.slice(0, (long) (r0 - lo) * gridW), rows(buf.carry(), (long) (r0 - lo) * gridW));
            block.norm3().forward(backend, in.slice((long) (r0 - lo) * gridW, (long) (hi - lo) * gridW), band(x, gridW, r0, hi));
            lpi.forward(backend, out, in, hi - lo, gridW);
            int keep = Math.max(lo, r1 - HALO);
            DataMoves.copy(backend, rows(buf.carry(), (long) (r1 - keep) * gridW),
                    in.slice((long) (keep - lo) * gridW, (long) (r1 - lo) * gridW));
            Tensor xb = band(x, gridW, r0, r1);
            backend.addScaled(xb, out.slice((long) (r0 - lo) * gridW, (long) (r1 - lo) * gridW), block.gamma3());

            long m = (long) (r1 - r0) * gridW;
            Tensor u = rows(buf.u(), m), y = rows(buf.y(), m);
            block.norm2().forward(backend, u, xb);
            block.mlp().forward(backend, y, u, rows(buf.hidden(), m));
            backend.addScaled(xb, y, block.gamma2());
        }
    }

    /** Rows [r0, r1) of the token grid, as a (rows * Wp, C) view of x (Hp * Wp, C). */
    private static Tensor band(Tensor x, int gridW, int r0, int r1) {
        return x.slice((long) r0 * gridW, (long) r1 * gridW);
    }

    /** The first {@code n} rows of a (rows, cols) buffer. */
    private static Tensor rows(Tensor t, long n) {
        return t.slice(0, n);
    }
}
