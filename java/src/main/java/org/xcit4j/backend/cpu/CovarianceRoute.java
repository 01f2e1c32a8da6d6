package org.xcit4j.backend.cpu;

import static org.xcit4j.backend.Checks.*;

import java.util.ArrayList;
import java.util.List;
import org.xcit4j.backend.NativeContext;
import org.xcit4j.tensor.Tensor;

/**
 * The CPU backend's covariance-folded attention (CovarianceFold's algebra): the whole-image
 * form ({@link CovarianceXca}: u^T u, the fold, one Linear) and the banded form of streamed
 * blocks ({@link CovarianceBands}), with their argument checks. CpuBackend decides, from the
 * token count, when a block takes this route. One per session ({@link SessionState}): its
 * buffers and primitives live in the session's scope and go when the session is released.
 */
final class CovarianceRoute {
    private final NativeContext ctx;
    private final Gemms gemms;
    private final Dnnl.Scope scope;
    /** The folded attention's buffers and primitives per (u, x) pair (a session passes one). */
    private final List<CovarianceXca> whole = new ArrayList<>(1);
    /** The covariance route of streamed blocks (made on first use). */
    private CovarianceBands bands;

    CovarianceRoute(NativeContext ctx, Gemms gemms, Dnnl.Scope scope) {
        this.ctx = ctx;
        this.gemms = gemms;
        this.scope = scope;
    }

    /** x += gamma * proj(XCA(u)) for u (B, N, C) through the fold (its GEMMs in fp32 in either precision). */
    void xcaAddScaled(Tensor x, Tensor u, Tensor qkvWeight, Tensor qkvBias, Tensor temperature, int heads,
                      Tensor projWeight, Tensor projBias, Tensor gamma) {
        long c = u.shape().dim(2);
        checkXcaWeights(c, qkvWeight, qkvBias, temperature, heads, projBias, gamma);
        requireDims(projWeight, "xca proj weight", c, c);
        gemms.ensureOmpThreads();
        boolean bf16 = gemms.bf16();
        CovarianceXca path = null;
        for (int i = 0; i < whole.size() && path == null; i++) {
            if (whole.get(i).serves(u, x, heads, bf16)) path = whole.get(i);
        }
        if (path == null) whole.add(path = new CovarianceXca(scope, u, x, heads, bf16));
        path.run(ctx, qkvWeight, qkvBias, temperature, projWeight, projBias, gamma, gemms.dryRun);
    }

    void accumulate(Tensor stats, Tensor u, boolean accumulate) {
        long c = u.shape().dim(-1), m = c == 0 ? 0 : u.numel() / c;
        requireNumel(stats, (c + 1) * c, "xcaCovAccumulate stats (C + 1, C)");
        if (m == 0) return;
        gemms.ensureOmpThreads();
        bands().accumulate(ctx, stats, u, m, c, accumulate, gemms.dryRun);
    }

    void fold(Tensor folded, Tensor stats, long tokens, Tensor qkvWeight, Tensor qkvBias, Tensor temperature, int heads,
              Tensor projWeight, Tensor projBias, Tensor gamma) {
        long c = projWeight.shape().dim(0);
        requireNumel(stats, (c + 1) * c, "xcaCovFold stats (C + 1, C)");
        requireNumel(folded, (c + 1) * c, "xcaCovFold folded (C + 1, C)");
        checkXcaWeights(c, qkvWeight, qkvBias, temperature, heads, projBias, gamma);
        gemms.ensureOmpThreads();
        bands().fold(ctx, folded, stats, tokens, qkvWeight, qkvBias, temperature, heads, projWeight, projBias, gamma, c,
                gemms.dryRun);
    }

    void apply(Tensor x, Tensor u, Tensor folded) {
        long c = u.shape().dim(-1), m = c == 0 ? 0 : u.numel() / c;
        if (x.numel() != u.numel()) throw new IllegalArgumentException("xcaCovApply x/u: " + x.shape() + " vs " + u.shape());
        requireNumel(folded, (c + 1) * c, "xcaCovApply folded (C + 1, C)");
        if (m == 0) return;
        gemms.ensureOmpThreads();
        bands().apply(x, u, folded, m, c, gemms.dryRun);
    }

    private static void checkXcaWeights(long c, Tensor qkvWeight, Tensor qkvBias, Tensor temperature, int heads,
                                        Tensor projBias, Tensor gamma) {
        requireDims(qkvWeight, "xca qkv weight", 3 * c, c);
        requireNumel(qkvBias, 3 * c, "xca qkv bias");
        requireNumel(temperature, heads, "xca temperature");
        requireNumel(projBias, c, "xca proj bias");
        if (gamma != null) requireNumel(gamma, c, "xca gamma");
        if (heads < 1 || c % heads != 0) throw new IllegalArgumentException("xca: C = " + c + " is not divisible by heads = " + heads);
    }

    private CovarianceBands bands() {
        if (bands == null) bands = new CovarianceBands(scope);
        return bands;
    }
}
