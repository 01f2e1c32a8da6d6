package org.xcit4j.backend;

import java.lang.foreign.MemorySegment;
import java.util.List;
import org.xcit4j.backend.cpu.CpuBackend;
import org.xcit4j.backend.cuda.CudaBackend;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The operations of the XCiT forward, one method per op. Every tensor is float32, row-major
 * and contiguous, with the shape the comment gives (B batch, N tokens, C channels, h heads,
 * Hp x Wp token grid, T = N + 1 rows in the class-attention stage). Activations are
 * channel-last: a (B, Hp, Wp, C) image and a (B, N, C) token matrix are the same bytes.
 * Ops never allocate: outputs are preallocated by the session's memory plan. An output may
 * alias an input only where the method says so.
 */
public interface Backend extends AutoCloseable {

    /** Short name for messages and `xcit info`: "java", "cpu", "cuda". */
    String name();

    /**
     * What a session hands its backend: the op sequence, split into what runs once per
     * session ({@link #setup}) and per input ({@link #forward}), and the memory both use.
     * Both call this backend's ops only, always in the same order, on tensors that are the
     * planned {@link #activations()}, the model's weights, or the input.
     */
    interface Forward {
        /** The memory plan's one block: every activation tensor is a view into it. */
        MemorySegment activations();

        /** (B, 3, H, W) of the inputs. */
        Shape inputShape();

        /**
         * The planned (B, 3, H, W) fp32 tensor a backend that {@link Backend#stagesInput()
         * stages its input} copies each input into; null on host backends.
         */
        Tensor inputSlot();

        /** Planned tensors Java itself fills on the host before {@link #setup} (the Fourier features). */
        List<Tensor> hostInitialised();

        /** Planned tensors the caller reads after a run. */
        List<Tensor> outputs();

        /** Once per session, before the first forward (the positional encoding's projection). */
        void setup(Backend backend);

        /** The forward pass, from {@code input} (B, 3, H, W) to {@link #outputs()}. */
        void forward(Backend backend, Tensor input);
    }

    /**
     * Readies {@code forward} to run: here, just its setup. A device backend moves weights
     * and activations to the device and may record the forward (CudaBackend: a CUDA graph).
     */
    default void prepare(Forward forward) {
        forward.setup(this);
    }

    /**
     * Whether sessions must plan an input slot for this backend (a device copies each input
     * there). Host backends read the caller's tensor in place, so a large image is not held
     * twice.
     */
    default boolean stagesInput() {
        return false;
    }

    /** One forward on {@code input} (B, 3, H, W); afterwards the outputs hold the results. */
    default void run(Forward forward, Tensor input) {
        forward.forward(this, input);
    }

    /** The session of {@code forward} is closing: free what {@link #prepare} made for it. */
    default void release(Forward forward) {
    }

    /** out[r, :] = (in[r, :] - mean) / sqrt(var + eps) * gamma + beta over the last axis; out may alias in. */
    void layerNorm(Tensor out, Tensor in, Tensor gamma, Tensor beta, float eps);

    /** out (M, O) = in (M, K) * weight (O, K)^T + bias (O), bias may be null. */
    void linear(Tensor out, Tensor in, Tensor weight, Tensor bias);

    /** out (M, O) = GELU(in (M, K) * weight (O, K)^T + bias (O)): the first half of an MLP, fusable. */
    default void linearGelu(Tensor out, Tensor in, Tensor weight, Tensor bias) {
        linear(out, in, weight, bias);
        gelu(out);
    }

    /**
     * x (M, O) += gamma (O) * (in (M, K) * weight (O, K)^T + bias (O)): a projection and its
     * residual update with layer scale, fusable. tmp (M, O) is scratch a backend may use.
     */
    default void linearAddScaled(Tensor x, Tensor in, Tensor weight, Tensor bias, Tensor gamma, Tensor tmp) {
        linear(tmp, in, weight, bias);
        addScaled(x, tmp, gamma);
    }

    /**
     * x (M, C) += gamma (C) * fc2(GELU(fc1(in (M, C)))) with fc1 = (weight1 (H, C), bias1),
     * fc2 = (weight2 (C, H), bias2): a whole MLP and its residual update, fusable. hidden
     * (M, H) and tmp (M, C) are scratch whose contents a backend may keep in any format.
     */
    default void mlpAddScaled(Tensor x, Tensor in, Tensor weight1, Tensor bias1, Tensor weight2, Tensor bias2,
                              Tensor gamma, Tensor hidden, Tensor tmp) {
        linearGelu(hidden, in, weight1, bias1);
        linearAddScaled(x, hidden, weight2, bias2, gamma, tmp);
    }

    /**
     * x (M, C) += gamma (C) * MLP(layerNorm(x)): the block's last branch with its norm, as
     * {@link #layerNorm} into u (M, C) and then {@link #mlpAddScaled}. u is scratch: a backend
     * may leave LN(x) in it or keep the normalised rows elsewhere in another format.
     */
    default void layerNormMlpAddScaled(Tensor x, Tensor u, Tensor lnGamma, Tensor lnBeta, float eps, Tensor weight1,
                                       Tensor bias1, Tensor weight2, Tensor bias2, Tensor gamma, Tensor hidden, Tensor tmp) {
        layerNorm(u, x, lnGamma, lnBeta, eps);
        mlpAddScaled(x, u, weight1, bias1, weight2, bias2, gamma, hidden, tmp);
    }

    /** In place exact (erf) GELU: x = x/2 * (1 + erf(x / sqrt 2)). */
    void gelu(Tensor x);

    /** x (R, C) += gamma (C) * y (R, C), gamma broadcast over rows; gamma null means 1. */
    void addScaled(Tensor x, Tensor y, Tensor gamma);

    /**
     * The residual update and the next LayerNorm: x (R, C) += gamma (C) * y (R, C), then
     * out = layerNorm(x) as {@link #layerNorm}; out must not alias x or y. The default is
     * exactly those two ops; a backend may fuse them into one pass (CudaBackend does).
     */
    default void addScaledLayerNorm(Tensor x, Tensor out, Tensor y, Tensor gamma, Tensor lnGamma, Tensor lnBeta, float eps) {
        addScaled(x, y, gamma);
        layerNorm(out, x, lnGamma, lnBeta, eps);
    }

    /** x (B, N, C) += rows (N, C) for every image of the batch. */
    void addBroadcast(Tensor x, Tensor rows);

    /** out (B, H, W, Cin) = in (B, Cin, H, W): the input image to channel-last. */
    void nchwToNhwc(Tensor out, Tensor in);

    /**
     * out (B, S, R) = in (B, R, S), activations (out and in do not alias). On host backends,
     * where every tensor is fp32, this is {@link #nchwToNhwc} on (B, R, S, 1) views; a device
     * that stores activations in 16 bits must not read them as the fp32 input image.
     */
    default void transpose(Tensor out, Tensor in, long batch, long rows, long cols) {
        nchwToNhwc(out.reshape(batch, cols, 1, rows), in.reshape(batch, rows, cols, 1));
    }

    /**
     * 3x3 convolution, stride 2, zero padding 1, then GELU (as {@link #gelu}) if {@code gelu}:
     * out (B, R, ceil(W/2), Cout) = output rows [firstRow, firstRow + R) of
     * conv(in (B, H, W, Cin), weight (Cout, Cin, 3, 3)) + bias (Cout), firstRow + R <= ceil(H/2).
     * The whole output is firstRow 0, R = ceil(H/2); a band of it (where {@link #convRowBands})
     * lets the patch embedding run band by band, so its large stage outputs never exist whole.
     */
    void conv3x3s2(Tensor out, Tensor in, int firstRow, Tensor weight, Tensor bias, boolean gelu);

    /**
     * {@link #conv3x3s2} on a channel-first in (B, Cin, H, W), such as a session's (B, 3, H, W)
     * input: the patch embedding's first stage reads the caller's image in place, band by band,
     * with no channel-last copy of it. Where {@link #convRowBands}; the default refuses.
     */
    default void conv3x3s2ChannelsFirst(Tensor out, Tensor in, int firstRow, Tensor weight, Tensor bias, boolean gelu) {
        throw new UnsupportedOperationException(name() + " does not run conv3x3s2 on channel-first input (convRowBands is false)");
    }

    /**
     * Whether {@link #conv3x3s2} computes bands of output rows (firstRow > 0 or R < ceil(H/2))
     * and {@link #conv3x3s2ChannelsFirst} exists. A backend that answers false is only asked for
     * whole outputs of channel-last input, and its sessions hold every patch-embedding stage whole.
     */
    default boolean convRowBands() {
        return true;
    }

    /**
     * Cross-covariance attention core for every image and head: from qkv (B, N, 3C)
     * (feature s*C + head*d + i, s = q, k, v) compute, per head, the d x d matrix
     * A = softmax_j(temperature[head] * <q_i, k_j> / (max(|q_i|, 1e-12) max(|k_j|, 1e-12)))
     * with the inner products over tokens, and out (B, N, C) [n, head*d + i] = sum_j A[i, j] v[n, head*d + j].
     */
    void xca(Tensor out, Tensor qkv, Tensor temperature, int heads);

    /**
     * The first pass of {@link #xca} over a chunk of tokens of ONE image, for streamed blocks:
     * stats (heads, d, d + 2) = (accumulate ? stats : 0) + sums over the M rows of qk (M, 2C) (q in features [0, C), k in
     * [C, 2C)) of [h, i, j] q[h*d+i] k[h*d+j] for j < d, [h, i, d] q[h*d+i]^2 and
     * [h, i, d+1] k[h*d+i]^2. Chunk after chunk, it accumulates the Gram matrices and squared
     * row norms of every head over all tokens. Sums of a chunk may be formed in any precision
     * >= float32 before they are added.
     */
    void xcaGram(Tensor stats, Tensor qk, int heads, boolean accumulate);

    /**
     * The attention of {@link #xca} from accumulated stats (heads, d, d + 2) (see {@link #xcaGram}):
     * attn (C, C) is block-diagonal, block h = softmax_j(temperature[h] * G[h, i, j] /
     * (max(sqrt(qn[h, i]), 1e-12) max(sqrt(kn[h, j]), 1e-12))), zero off the blocks, so that
     * {@code linear(out, v, attn, null)} gives out[n, h*d + i] = sum_j A[h, i, j] v[n, h*d + j].
     */
    void xcaSoftmax(Tensor attn, Tensor stats, Tensor temperature);

    /**
     * out (M, C) [n, h*d + i] = sum_j attn[h*d + i, h*d + j] v[n, h*d + j]: the attention of
     * {@link #xcaSoftmax} applied to a chunk of v (M, C). Only attn's diagonal blocks are
     * read, and attn changes with every input, so it must not be treated as a fixed weight.
     * The default is {@code linear(out, v, attn, null)}, exact since the other blocks are zero,
     * for backends whose linear reads the weight on every call. out must not alias v.
     */
    default void xcaApply(Tensor out, Tensor v, Tensor attn, int heads) {
        linear(out, v, attn, null);
    }

    /**
     * Whether streamed blocks should take the covariance-folded route for images of
     * {@code tokens} tokens of {@code channels} channels: {@link #xcaCovAccumulate} per band,
     * {@link #xcaCovFold} once, {@link #xcaCovApply} per band, 2 N C^2 multiply-adds where
     * the direct route ({@link #xcaGram}, {@link #xcaSoftmax}, {@link #xcaApply}) needs 4 N C^2.
     * Backends that answer false (the default) stream the direct route.
     */
    default boolean foldsStreamedXca(long tokens, long channels) {
        return false;
    }

    /**
     * stats (C + 1, C) = [u^T u ; column sums of u] of a band u (M, C) of one image, added to
     * stats when {@code accumulate}: over all bands, what the covariance-folded attention
     * needs of the image's normalised tokens (spec section 3).
     */
    default void xcaCovAccumulate(Tensor stats, Tensor u, boolean accumulate) {
        throw new UnsupportedOperationException(name() + " does not fold streamed XCA (foldsStreamedXca is false)");
    }

    /**
     * folded (C + 1, C) = [W' ; b']: one image's whole attention branch, gamma included (null
     * means 1), as one Linear, from its {@link #xcaCovAccumulate} stats over {@code tokens}
     * tokens and the weights of {@link #xcaAddScaled}.
     */
    default void xcaCovFold(Tensor folded, Tensor stats, long tokens, Tensor qkvWeight, Tensor qkvBias, Tensor temperature,
                            int heads, Tensor projWeight, Tensor projBias, Tensor gamma) {
        throw new UnsupportedOperationException(name() + " does not fold streamed XCA (foldsStreamedXca is false)");
    }

    /**
     * x (M, C) += u (M, C) W'^T + b' with folded = [W' ; b'] from {@link #xcaCovFold}: the
     * attention branch applied to a band. W' changes with every image, so it is never packed.
     */
    default void xcaCovApply(Tensor x, Tensor u, Tensor folded) {
        throw new UnsupportedOperationException(name() + " does not fold streamed XCA (foldsStreamedXca is false)");
    }

    /**
     * x (B, N, C) += gamma (C) * proj(XCA(qkv(u))) with qkv = Linear(qkvWeight (3C, C),
     * qkvBias), XCA as in {@link #xca} and proj = Linear(projWeight (C, C), projBias): the
     * attention branch of a block, which a backend may compute another way (the spec's
     * covariance-folded form). qkvBuf (B, N, 3C), attnBuf and tmp (B, N, C) are scratch;
     * qkvBuf and attnBuf may be null where {@link #xcaUsesBuffers} is false, tmp where
     * {@link #residualOpsUseTmp} is.
     */
    default void xcaAddScaled(Tensor x, Tensor u, Tensor qkvWeight, Tensor qkvBias, Tensor temperature, int heads,
                              Tensor projWeight, Tensor projBias, Tensor gamma, Tensor qkvBuf, Tensor attnBuf, Tensor tmp) {
        linear(qkvBuf, u, qkvWeight, qkvBias);
        xca(attnBuf, qkvBuf, temperature, heads);
        linearAddScaled(x, attnBuf, projWeight, projBias, gamma, tmp);
    }

    /**
     * Whether {@link #xcaAddScaled} on (B, tokens, channels) uses its qkvBuf and attnBuf. A
     * backend that takes another route there answers false (CpuBackend: the covariance-folded
     * one from its crossover on); callers may then pass null for both, so sessions do not plan
     * (B, N, 4C) floats that nothing touches.
     */
    default boolean xcaUsesBuffers(long tokens, long channels) {
        return true;
    }

    /**
     * Whether the residual ops {@link #linearAddScaled}, {@link #xcaAddScaled},
     * {@link #lpiAddScaled}, {@link #mlpAddScaled} and {@link #layerNormMlpAddScaled} use their
     * tmp scratch (the default compositions do). A backend whose versions are all fused answers
     * false; callers may then pass null.
     */
    default boolean residualOpsUseTmp() {
        return true;
    }

    /**
     * Local patch interaction on a (B, Hp, Wp, C) channel-last grid: depthwise conv3x3
     * (pad 1, weight1 (C, 9), bias1) -> GELU -> per-channel affine (bnScale, bnShift: the
     * BatchNorm in inference form) -> depthwise conv3x3 (pad 1, weight2, bias2), zero padding
     * applied to the affine's output. out must not alias in.
     */
    void lpi(Tensor out, Tensor in, int gridH, int gridW, Tensor weight1, Tensor bias1,
             Tensor bnScale, Tensor bnShift, Tensor weight2, Tensor bias2);

    /**
     * x (B, Hp*Wp, C) += gamma (C) * LPI(in) with LPI as in {@link #lpi}: the block's residual
     * update, fusable. tmp (like in) is scratch a backend may use; x must not alias in.
     */
    default void lpiAddScaled(Tensor x, Tensor in, int gridH, int gridW, Tensor weight1, Tensor bias1,
                              Tensor bnScale, Tensor bnShift, Tensor weight2, Tensor bias2, Tensor gamma, Tensor tmp) {
        lpi(tmp, in, gridH, gridW, weight1, bias1, bnScale, bnShift, weight2, bias2);
        addScaled(x, tmp, gamma);
    }

    /**
     * Class attention of the cls query over all T rows, per head (d = C / heads):
     * a = softmax_t(q_h . k_{t,h} / sqrt d), out (B, C) [h*d + i] = sum_t a_t v_{t, h*d + i};
     * q (B, C), kv (B, T, 2C) holding k in features [0, C) and v in [C, 2C).
     * If {@code weights} (B, heads, T) is not null it receives a (the attention maps).
     */
    void classAttention(Tensor out, Tensor weights, Tensor q, Tensor kv, int heads);

    /**
     * Whether this backend computes class attention with the k and v projections folded
     * away ({@link #classAttentionFromRows} without a kv buffer, and the streamed steps
     * {@link #classAttentionFoldQuery} .. {@link #classAttentionFoldedOut}). Only the cls row
     * queries, so per image and head h (rows h*d .. h*d + d - 1 of Wk, Wv; s = d^-1/2):
     * q_h . k_{t,h} s = u_t . K'_h + c_h with K'_h = s q_h Wk_h (a (heads, C) matrix) and
     * c_h = s q_h . bk_h, and sum_t a_t v_{t,h} = Wv_h ubar_h + bv_h with ubar_h = sum_t a_t u_t,
     * since a head's weights sum to 1: O(T C heads) instead of the O(T C^2) projections.
     * Sessions plan the (B, T, 2C) kv buffer only for backends that answer false (the default).
     */
    default boolean foldsClassAttention() {
        return false;
    }

    /**
     * Class attention with its k and v projections: k_t, v_t = the halves of
     * u (B, T, C) [b, t] kvWeight (2C, C)^T + kvBias (2C) (k in features [0, C), v in [C, 2C)),
     * then {@link #classAttention} on them with the queries q (B, C); weights (B, heads, T)
     * receives the softmax weights unless it is null. The default computes exactly that, in
     * kvBuf (B, T, 2C); a backend that {@link #foldsClassAttention() folds} never computes k
     * or v and ignores kvBuf, which may then be null.
     */
    default void classAttentionFromRows(Tensor out, Tensor weights, Tensor q, Tensor u, Tensor kvWeight, Tensor kvBias,
                                        int heads, Tensor kvBuf) {
        if (kvBuf == null) throw new IllegalArgumentException(name() + " does not fold class attention: kvBuf (B, T, 2C) is required");
        linear(kvBuf, u, kvWeight, kvBias);
        classAttention(out, weights, q, kvBuf, heads);
    }

    /**
     * Class attention with its query projection: q = u[:, 0] qWeight (C, C)^T + qBias (the cls
     * rows' queries), then {@link #classAttentionFromRows}(out, weights, q, u, kvWeight, kvBias,
     * heads, kvBuf) on the rows u (B, T, C). u0 and q (B, C) are scratch: the default gathers
     * u's row 0 into u0 and keeps the queries in q; a backend may form them inside its
     * attention instead (CudaBackend does, in one kernel). kvBuf as classAttentionFromRows's.
     */
    default void classAttentionWithQuery(Tensor out, Tensor weights, Tensor u, Tensor qWeight, Tensor qBias,
                                         Tensor kvWeight, Tensor kvBias, int heads, Tensor u0, Tensor q, Tensor kvBuf) {
        gatherRow(u0, u, 0);
        linear(q, u0, qWeight, qBias);
        classAttentionFromRows(out, weights, q, u, kvWeight, kvBias, heads, kvBuf);
    }

    /**
     * The row-wise part of a class-attention block (spec 4) on x (B, T, C), each image's cls
     * row first: u (B, T, C) = layerNorm(x; lnGamma1, lnBeta1) on every row; cls (B, C) =
     * x[:, 0] as on entry (the cls row's residual, for the ops that follow); then the patch
     * rows' whole update, x[:, t] += gamma1 * u[:, t] (their attention branch is u itself),
     * followed by x[:, t] = layerNorm(x[:, t]; lnGamma2, lnBeta2) unless lnGamma2 is null
     * (timm's tokens_norm). x[:, 0] is left as it was; u and cls must not alias x. The default
     * is those ops one by one; a backend may fuse them (CudaBackend: one pass over the rows).
     */
    default void classAttentionRows(Tensor x, Tensor u, Tensor cls, Tensor lnGamma1, Tensor lnBeta1, Tensor gamma1,
                                    Tensor lnGamma2, Tensor lnBeta2, float eps) {
        layerNorm(u, x, lnGamma1, lnBeta1, eps);
        gatherRow(cls, x, 0);
        addScaled(x, u, gamma1);
        if (lnGamma2 != null) layerNorm(x, x, lnGamma2, lnBeta2, eps);
        scatterRow(x, 0, cls);
    }

    /**
     * The first step of folded class attention for ONE image (streamed sessions; see
     * {@link #foldsClassAttention}): keys (heads, C + 1), row h = [K'_h, c_h] with
     * K'_h[c] = s sum_j q[h*d + j] kWeight[h*d + j, c] and c_h = s sum_j q[h*d + j] kBias[h*d + j],
     * s = d^-1/2, from the cls query q (C), kWeight (C, C) and kBias (C) (null: no bias).
     */
    default void classAttentionFoldQuery(Tensor keys, Tensor q, Tensor kWeight, Tensor kBias) {
        throw new UnsupportedOperationException(name() + " does not fold class attention (foldsClassAttention is false)");
    }

    /**
     * The scores pass of folded class attention over a chunk of rows of ONE image:
     * scores (heads, T) [h, offset + t] = u[t] . keys[h, :C] + keys[h, C] for the M rows of
     * u (M, C), keys from {@link #classAttentionFoldQuery}: q_h . k_{t,h} / sqrt d without k.
     * The other columns are left as they are.
     */
    default void classAttentionFoldedScores(Tensor scores, long offset, Tensor keys, Tensor u) {
        throw new UnsupportedOperationException(name() + " does not fold class attention (foldsClassAttention is false)");
    }

    /** x (R, S) = softmax along each row (over S), in place. */
    void softmaxRows(Tensor x);

    /**
     * The weighted-sum pass of folded class attention over a chunk of rows of ONE image:
     * ubar (heads, C) [h, c] = (accumulate ? ubar : 0) + sum over the M rows t of u (M, C) of
     * weights (heads, T) [h, offset + t] * u[t, c].
     */
    default void classAttentionFoldedSum(Tensor ubar, Tensor weights, long offset, Tensor u, boolean accumulate) {
        throw new UnsupportedOperationException(name() + " does not fold class attention (foldsClassAttention is false)");
    }

    /**
     * The last step of folded class attention for ONE image: out (C) [h*d + j] =
     * vWeight (C, C) [h*d + j, :] . ubar[h, :] + vBias[h*d + j] (vBias null: no bias), with
     * ubar (heads, C) from {@link #classAttentionFoldedSum} over all T rows: sum_t a_t v_{t, h*d + j}.
     */
    default void classAttentionFoldedOut(Tensor out, Tensor ubar, Tensor vWeight, Tensor vBias) {
        throw new UnsupportedOperationException(name() + " does not fold class attention (foldsClassAttention is false)");
    }

    /** x (R, C) = x * scale (C) + shift (C), in place: an inference BatchNorm. */
    void channelAffine(Tensor x, Tensor scale, Tensor shift);

    /**
     * 2x2 transposed convolution, stride 2: out (B, 2H, 2W, Cout) [b, 2y+i, 2x+j, o] =
     * bias[o] + sum_c in (B, H, W, Cin) [b, y, x, c] * weight (Cin, Cout, 2, 2) [c, o, i, j].
     */
    void convTranspose2x2(Tensor out, Tensor in, Tensor weight, Tensor bias);

    /** k x k max pooling, stride k, no padding (floor): out (B, H/k, W/k, C) from in (B, H, W, C). */
    void maxPool(Tensor out, Tensor in, int k);

    /** out (B, C) = in (B, R, C)[:, row, :]. */
    void gatherRow(Tensor out, Tensor in, int row);

    /** out (B, R, C)[:, row, :] = in (B, C). */
    void scatterRow(Tensor out, int row, Tensor in);

    /** out (B, N + 1, C) = [first (C); tokens (B, N, C)] for every image: prepends the cls token. */
    void prependRow(Tensor out, Tensor first, Tensor tokens);

    @Override
    void close();
}
