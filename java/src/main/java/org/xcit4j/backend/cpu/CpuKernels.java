package org.xcit4j.backend.cpu;

import static org.xcit4j.backend.Checks.*;
import static org.xcit4j.bindings.xcit.xcit_h.*;

import java.lang.foreign.MemorySegment;
import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The ops of {@link CpuBackend} that are one libxcit C kernel each (element-wise, LayerNorm,
 * fused XCA and LPI, class attention direct and folded, the dense head's ops, row moves),
 * with their argument checks. CpuBackend adds what needs more than a kernel: the oneDNN
 * GEMMs, the covariance route and the patch-embedding convolution.
 */
abstract sealed class CpuKernels implements Backend permits CpuBackend {

    /** The native context's handle; throws once the backend is closed. */
    abstract MemorySegment handle();

    /** Throws unless {@code status} is XCIT_OK, with the context's error text. */
    abstract void check(int status, String op);

    @Override
    public void layerNorm(Tensor out, Tensor in, Tensor gamma, Tensor beta, float eps) {
        if (!out.shape().equals(in.shape())) throw new IllegalArgumentException("layerNorm out/in: " + out.shape() + " vs " + in.shape());
        long cols = in.shape().dim(-1);
        requireNumel(gamma, cols, "layerNorm gamma");
        requireNumel(beta, cols, "layerNorm beta");
        check(xcit_cpu_layernorm_f32(handle(), out.segment(), in.segment(), gamma.segment(), beta.segment(),
                cols == 0 ? 0 : in.numel() / cols, cols, eps), "xcit_cpu_layernorm_f32");
    }

    @Override
    public void gelu(Tensor x) {
        check(xcit_cpu_gelu_f32(handle(), x.segment(), x.numel()), "xcit_cpu_gelu_f32");
    }

    @Override
    public void addScaled(Tensor x, Tensor y, Tensor gamma) {
        if (!x.shape().equals(y.shape())) throw new IllegalArgumentException("addScaled x/y: " + x.shape() + " vs " + y.shape());
        long cols = x.shape().dim(-1);
        if (gamma != null) requireNumel(gamma, cols, "addScaled gamma");
        check(xcit_cpu_add_scaled_f32(handle(), x.segment(), y.segment(), gamma == null ? MemorySegment.NULL : gamma.segment(),
                cols == 0 ? 0 : x.numel() / cols, cols), "xcit_cpu_add_scaled_f32");
    }

    @Override
    public void addBroadcast(Tensor x, Tensor rows) {
        long per = rows.numel();
        if (per == 0 || x.numel() % per != 0) throw new IllegalArgumentException("addBroadcast rows: shape " + rows.shape() + ", expected a divisor of " + x.shape());
        check(xcit_cpu_add_broadcast_f32(handle(), x.segment(), rows.segment(), x.numel(), per), "xcit_cpu_add_broadcast_f32");
    }

    @Override
    public void nchwToNhwc(Tensor out, Tensor in) {
        Shape s = in.shape();
        requireDims(out, "nchwToNhwc out", s.dim(0), s.dim(2), s.dim(3), s.dim(1));
        check(xcit_cpu_nchw_to_nhwc_f32(handle(), out.segment(), in.segment(), s.dim(0), s.dim(1), s.dim(2), s.dim(3)),
                "xcit_cpu_nchw_to_nhwc_f32");
    }

    /** nchw_to_nhwc's kernel on (B, R, S, 1), called with the sizes: no views made per call. */
    @Override
    public void transpose(Tensor out, Tensor in, long batch, long rows, long cols) {
        if (in.numel() != batch * rows * cols || out.numel() != in.numel()) {
            throw new IllegalArgumentException("transpose of " + in.shape() + " into " + out.shape() + " as (" + batch + ", "
                    + rows + ", " + cols + ")");
        }
        check(xcit_cpu_nchw_to_nhwc_f32(handle(), out.segment(), in.segment(), batch, rows, cols, 1), "xcit_cpu_nchw_to_nhwc_f32");
    }

    /** The Gram pass of a streamed block: libxcit's kernel, the fused XCA's first pass on a chunk. */
    @Override
    public void xcaGram(Tensor stats, Tensor qk, int heads, boolean accumulate) {
        long c2 = qk.shape().dim(-1), c = c2 / 2;
        if (c2 != 2 * c || heads < 1 || c % heads != 0) {
            throw new IllegalArgumentException("xcaGram qk: shape " + qk.shape() + ", expected (M, 2C) with C divisible by " + heads);
        }
        long d = c / heads;
        requireDims(stats, "xcaGram stats", heads, d, d + 2);
        check(xcit_cpu_xca_gram_f32(handle(), stats.segment(), qk.segment(), qk.numel() / c2, c, heads, accumulate ? 1 : 0),
                "xcit_cpu_xca_gram_f32");
    }

    @Override
    public void xcaSoftmax(Tensor attn, Tensor stats, Tensor temperature) {
        Shape s = stats.shape();
        long heads = s.dim(0), d = s.dim(1), c = heads * d;
        if (s.rank() != 3 || s.dim(2) != d + 2) throw new IllegalArgumentException("xcaSoftmax stats: shape " + s + ", expected (heads, d, d + 2)");
        requireDims(attn, "xcaSoftmax attn", c, c);
        requireNumel(temperature, heads, "xcaSoftmax temperature");
        check(xcit_cpu_xca_softmax_f32(handle(), attn.segment(), stats.segment(), temperature.segment(), c, heads),
                "xcit_cpu_xca_softmax_f32");
    }

    /**
     * libxcit's block-diagonal kernel: a oneDNN linear would pack attn as a weight on the
     * first call and never see it change.
     */
    @Override
    public void xcaApply(Tensor out, Tensor v, Tensor attn, int heads) {
        long c = v.shape().dim(-1);
        if (heads < 1 || c % heads != 0) throw new IllegalArgumentException("xcaApply v: shape " + v.shape() + ", C not divisible by " + heads);
        if (out.numel() != v.numel()) throw new IllegalArgumentException("xcaApply out/v: " + out.shape() + " vs " + v.shape());
        requireDims(attn, "xcaApply attn", c, c);
        check(xcit_cpu_xca_apply_f32(handle(), out.segment(), v.segment(), attn.segment(), c == 0 ? 0 : v.numel() / c, c, heads),
                "xcit_cpu_xca_apply_f32");
    }

    @Override
    public void xca(Tensor out, Tensor qkv, Tensor temperature, int heads) {
        Shape s = qkv.shape();
        long b = s.dim(0), n = s.dim(1), c = s.dim(2) / 3;
        if (s.dim(2) != 3 * c || heads < 1 || c % heads != 0) throw new IllegalArgumentException("xca qkv: shape " + s + ", expected (B, N, 3C) with C divisible by " + heads);
        requireDims(out, "xca out", b, n, c);
        requireNumel(temperature, heads, "xca temperature");
        check(xcit_cpu_xca_f32(handle(), out.segment(), qkv.segment(), temperature.segment(), b, n, c, heads), "xcit_cpu_xca_f32");
    }

    @Override
    public void lpi(Tensor out, Tensor in, int gridH, int gridW, Tensor weight1, Tensor bias1,
                    Tensor bnScale, Tensor bnShift, Tensor weight2, Tensor bias2) {
        lpiCall(out, in, gridH, gridW, weight1, bias1, bnScale, bnShift, weight2, bias2, null);
    }

    @Override
    public void lpiAddScaled(Tensor x, Tensor in, int gridH, int gridW, Tensor weight1, Tensor bias1,
                             Tensor bnScale, Tensor bnShift, Tensor weight2, Tensor bias2, Tensor gamma, Tensor tmp) {
        requireNumel(gamma, in.shape().dim(-1), "lpi gamma");
        lpiCall(x, in, gridH, gridW, weight1, bias1, bnScale, bnShift, weight2, bias2, gamma);
    }

    private void lpiCall(Tensor out, Tensor in, int gridH, int gridW, Tensor weight1, Tensor bias1,
                         Tensor bnScale, Tensor bnShift, Tensor weight2, Tensor bias2, Tensor gamma) {
        long c = in.shape().dim(-1), pixels = (long) gridH * gridW;
        if (pixels == 0 || c == 0 || in.numel() % (pixels * c) != 0) {
            throw new IllegalArgumentException("lpi in: shape " + in.shape() + ", expected (B, " + gridH + "*" + gridW + ", C)");
        }
        if (!out.shape().equals(in.shape())) throw new IllegalArgumentException("lpi out/in: " + out.shape() + " vs " + in.shape());
        requireNumel(bias1, c, "lpi bias1");
        requireNumel(bnScale, c, "lpi bnScale");
        requireNumel(bnShift, c, "lpi bnShift");
        requireNumel(bias2, c, "lpi bias2");
        requireNumel(weight1, 9 * c, "lpi weight1");
        requireNumel(weight2, 9 * c, "lpi weight2");
        check(xcit_cpu_lpi_f32(handle(), out.segment(), in.segment(), weight1.segment(), bias1.segment(), bnScale.segment(),
                bnShift.segment(), weight2.segment(), bias2.segment(), gamma == null ? MemorySegment.NULL : gamma.segment(),
                in.numel() / (pixels * c), gridH, gridW, c), "xcit_cpu_lpi_f32");
    }

    @Override
    public void classAttention(Tensor out, Tensor weights, Tensor q, Tensor kv, int heads) {
        Shape s = kv.shape();
        long b = s.dim(0), t = s.dim(1), c = s.dim(2) / 2;
        requireDims(q, "classAttention q", b, c);
        requireDims(out, "classAttention out", b, c);
        if (weights != null) requireDims(weights, "classAttention weights", b, heads, t);
        check(xcit_cpu_class_attention_f32(handle(), out.segment(), weights == null ? MemorySegment.NULL : weights.segment(),
                q.segment(), kv.segment(), b, t, c, heads), "xcit_cpu_class_attention_f32");
    }

    @Override
    public boolean foldsClassAttention() {
        return true;
    }

    @Override
    public void classAttentionFromRows(Tensor out, Tensor weights, Tensor q, Tensor u, Tensor kvWeight, Tensor kvBias,
                                       int heads, Tensor kvBuf) {
        Shape s = u.shape();
        if (s.rank() != 3) throw new IllegalArgumentException("classAttentionFromRows u: shape " + s + ", expected (B, T, C)");
        long b = s.dim(0), t = s.dim(1), c = s.dim(2);
        requireDims(q, "classAttentionFromRows q", b, c);
        requireDims(out, "classAttentionFromRows out", b, c);
        if (weights != null) requireDims(weights, "classAttentionFromRows weights", b, heads, t);
        requireDims(kvWeight, "classAttentionFromRows kvWeight", 2 * c, c);
        if (kvBias != null) requireNumel(kvBias, 2 * c, "classAttentionFromRows kvBias");
        check(xcit_cpu_class_attention_folded_f32(handle(), out.segment(), weights == null ? MemorySegment.NULL : weights.segment(),
                q.segment(), u.segment(), kvWeight.segment(), kvBias == null ? MemorySegment.NULL : kvBias.segment(), b, t, c, heads),
                "xcit_cpu_class_attention_folded_f32");
    }

    @Override
    public void classAttentionFoldQuery(Tensor keys, Tensor q, Tensor kWeight, Tensor kBias) {
        long c = q.numel(), heads = keys.shape().dim(0);
        requireDims(keys, "classAttentionFoldQuery keys", heads, c + 1);
        requireDims(kWeight, "classAttentionFoldQuery kWeight", c, c);
        if (kBias != null) requireNumel(kBias, c, "classAttentionFoldQuery kBias");
        check(xcit_cpu_class_attention_fold_query_f32(handle(), keys.segment(), q.segment(), kWeight.segment(),
                kBias == null ? MemorySegment.NULL : kBias.segment(), c, heads), "xcit_cpu_class_attention_fold_query_f32");
    }

    /** Rows of a (M, C) chunk at {@code offset} into a (heads, T) scores or weights buffer, checked. */
    private static long chunkRows(String op, Tensor scores, long offset, Tensor chunk, long c) {
        if (scores.shape().rank() != 2) throw new IllegalArgumentException(op + " scores: shape " + scores.shape() + ", expected (heads, T)");
        if (c < 1 || chunk.numel() % c != 0) throw new IllegalArgumentException(op + ": chunk " + chunk.shape() + ", expected (M, " + c + ")");
        long rows = chunk.numel() / c, t = scores.shape().dim(1);
        if (offset < 0 || offset + rows > t) throw new IllegalArgumentException(op + ": rows [" + offset + ", " + (offset + rows) + ") outside T = " + t);
        return rows;
    }

    @Override
    public void classAttentionFoldedScores(Tensor scores, long offset, Tensor keys, Tensor u) {
        long heads = scores.shape().dim(0), c = keys.shape().dim(-1) - 1;
        requireDims(keys, "classAttentionFoldedScores keys", heads, c + 1);
        long rows = chunkRows("classAttentionFoldedScores", scores, offset, u, c);
        check(xcit_cpu_class_attention_folded_scores_f32(handle(), scores.segment().asSlice(offset * Float.BYTES), keys.segment(),
                u.segment(), rows, c, heads, scores.shape().dim(1)), "xcit_cpu_class_attention_folded_scores_f32");
    }

    @Override
    public void softmaxRows(Tensor x) {
        long cols = x.shape().dim(-1);
        check(xcit_cpu_softmax_rows_f32(handle(), x.segment(), cols == 0 ? 0 : x.numel() / cols, cols), "xcit_cpu_softmax_rows_f32");
    }

    @Override
    public void classAttentionFoldedSum(Tensor ubar, Tensor weights, long offset, Tensor u, boolean accumulate) {
        long heads = weights.shape().dim(0), c = ubar.shape().dim(-1);
        requireDims(ubar, "classAttentionFoldedSum ubar", heads, c);
        long rows = chunkRows("classAttentionFoldedSum", weights, offset, u, c);
        check(xcit_cpu_class_attention_folded_sum_f32(handle(), ubar.segment(), weights.segment().asSlice(offset * Float.BYTES), u.segment(),
                rows, c, heads, weights.shape().dim(1), accumulate ? 1 : 0), "xcit_cpu_class_attention_folded_sum_f32");
    }

    @Override
    public void classAttentionFoldedOut(Tensor out, Tensor ubar, Tensor vWeight, Tensor vBias) {
        long c = out.numel(), heads = ubar.shape().dim(0);
        requireDims(ubar, "classAttentionFoldedOut ubar", heads, c);
        requireDims(vWeight, "classAttentionFoldedOut vWeight", c, c);
        if (vBias != null) requireNumel(vBias, c, "classAttentionFoldedOut vBias");
        check(xcit_cpu_class_attention_folded_out_f32(handle(), out.segment(), ubar.segment(), vWeight.segment(),
                vBias == null ? MemorySegment.NULL : vBias.segment(), c, heads), "xcit_cpu_class_attention_folded_out_f32");
    }

    @Override
    public void channelAffine(Tensor x, Tensor scale, Tensor shift) {
        long c = x.shape().dim(-1);
        requireNumel(scale, c, "channelAffine scale");
        requireNumel(shift, c, "channelAffine shift");
        check(xcit_cpu_channel_affine_f32(handle(), x.segment(), scale.segment(), shift.segment(), c == 0 ? 0 : x.numel() / c, c),
                "xcit_cpu_channel_affine_f32");
    }

    @Override
    public void convTranspose2x2(Tensor out, Tensor in, Tensor weight, Tensor bias) {
        Shape s = in.shape();
        long b = s.dim(0), h = s.dim(1), w = s.dim(2), cin = s.dim(3), cout = weight.shape().dim(1);
        requireDims(weight, "convTranspose2x2 weight", cin, cout, 2, 2);
        requireDims(out, "convTranspose2x2 out", b, 2 * h, 2 * w, cout);
        requireNumel(bias, cout, "convTranspose2x2 bias");
        check(xcit_cpu_conv_transpose2x2_f32(handle(), out.segment(), in.segment(), weight.segment(), bias.segment(),
                b, h, w, cin, cout), "xcit_cpu_conv_transpose2x2_f32");
    }

    @Override
    public void maxPool(Tensor out, Tensor in, int k) {
        Shape s = in.shape();
        if (k < 1) throw new IllegalArgumentException("maxPool k must be >= 1, got " + k);
        requireDims(out, "maxPool out", s.dim(0), s.dim(1) / k, s.dim(2) / k, s.dim(3));
        check(xcit_cpu_max_pool_f32(handle(), out.segment(), in.segment(), s.dim(0), s.dim(1), s.dim(2), s.dim(3), k),
                "xcit_cpu_max_pool_f32");
    }

    @Override
    public void gatherRow(Tensor out, Tensor in, int row) {
        Shape s = in.shape();
        requireDims(out, "gatherRow out", s.dim(0), s.dim(2));
        check(xcit_cpu_gather_row_f32(handle(), out.segment(), in.segment(), s.dim(0), s.dim(1), s.dim(2), row), "xcit_cpu_gather_row_f32");
    }

    @Override
    public void scatterRow(Tensor out, int row, Tensor in) {
        Shape s = out.shape();
        requireDims(in, "scatterRow in", s.dim(0), s.dim(2));
        check(xcit_cpu_scatter_row_f32(handle(), out.segment(), in.segment(), s.dim(0), s.dim(1), s.dim(2), row), "xcit_cpu_scatter_row_f32");
    }

    @Override
    public void prependRow(Tensor out, Tensor first, Tensor tokens) {
        Shape s = tokens.shape();
        requireDims(out, "prependRow out", s.dim(0), s.dim(1) + 1, s.dim(2));
        requireNumel(first, s.dim(2), "prependRow first");
        check(xcit_cpu_prepend_row_f32(handle(), out.segment(), first.segment(), tokens.segment(), s.dim(0), s.dim(1), s.dim(2)),
                "xcit_cpu_prepend_row_f32");
    }
}
