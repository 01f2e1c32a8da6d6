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
 *
 * <p>What a caller does with a backend: open one ({@link Backends#open}, or the constructors
 * of {@code JavaBackend}, {@code CpuBackend}, {@code CudaBackend}), hand it to
 * {@code Xcit.session} or {@code Xcit.denseSession}, and close it. The op methods and
 * {@link Forward} are the contract between the model and the backends: public because they
 * live in other packages (which is also why the interface is not sealed), but not API.
 * Backends other than xcit4j's own are not supported; the op set changes with the model.
 */
public interface Backend extends AutoCloseable {

    /**
     * Short name for messages and `xcit info`: "java", "cpu", "cuda".
     *
     * @return the backend's name
     */
    String name();

    /**
     * Not API: what a session hands its backend: the op sequence, split into what runs once per
     * session ({@link #setup}) and per input ({@link #forward}), and the memory both use.
     * Both call this backend's ops only, always in the same order, on tensors that are the
     * planned {@link #activations()}, the model's weights, or the input.
     */
    interface Forward {
        /**
         * The memory plan's one block: every activation tensor is a view into it.
         *
         * @return the planned activation memory
         */
        MemorySegment activations();

        /**
         * (B, 3, H, W) of the inputs.
         *
         * @return the input shape
         */
        Shape inputShape();

        /**
         * The planned (B, 3, H, W) fp32 tensor a backend that {@link Backend#stagesInput()
         * stages its input} copies each input into; null on host backends.
         *
         * @return the input slot, or null
         */
        Tensor inputSlot();

        /**
         * Planned tensors Java itself fills on the host before {@link #setup} (the Fourier features).
         *
         * @return the tensors Java initialises
         */
        List<Tensor> hostInitialised();

        /**
         * Planned tensors the caller reads after a run.
         *
         * @return the output tensors
         */
        List<Tensor> outputs();

        /**
         * Once per session, before the first forward (the positional encoding's projection).
         *
         * @param backend the backend whose ops run it
         */
        void setup(Backend backend);

        /**
         * The forward pass, from {@code input} (B, 3, H, W) to {@link #outputs()}.
         *
         * @param backend the backend whose ops run it
         * @param input the input images (B, 3, H, W)
         */
        void forward(Backend backend, Tensor input);
    }

    /**
     * Readies {@code forward} to run: here, just its setup. A device backend moves weights
     * and activations to the device and may record the forward (CudaBackend: a CUDA graph).
     *
     * @param forward the session's forward
     */
    default void prepare(Forward forward) {
        forward.setup(this);
    }

    /**
     * Whether sessions must plan an input slot for this backend (a device copies each input
     * there). Host backends read the caller's tensor in place, so a large image is not held
     * twice.
     *
     * @return true where each input is copied to a planned slot
     */
    default boolean stagesInput() {
        return false;
    }

    /**
     * One forward on {@code input} (B, 3, H, W); afterwards the outputs hold the results.
     *
     * @param forward the session's forward, prepared on this backend
     * @param input the input images (B, 3, H, W)
     */
    default void run(Forward forward, Tensor input) {
        forward.forward(this, input);
    }

    /**
     * The session of {@code forward} is closing: free what {@link #prepare} made for it.
     *
     * @param forward the session's forward
     */
    default void release(Forward forward) {
    }

    /**
     * out[r, :] = (in[r, :] - mean) / sqrt(var + eps) * gamma + beta over the last axis; out may alias in.
     *
     * @param out the normalised rows, (R, C)
     * @param in the rows, (R, C)
     * @param gamma the scale (C)
     * @param beta the shift (C)
     * @param eps added to the variance
     */
    void layerNorm(Tensor out, Tensor in, Tensor gamma, Tensor beta, float eps);

    /**
     * out (M, O) = in (M, K) * weight (O, K)^T + bias (O), bias may be null.
     *
     * @param out (M, O)
     * @param in (M, K)
     * @param weight (O, K)
     * @param bias (O), or null
     */
    void linear(Tensor out, Tensor in, Tensor weight, Tensor bias);

    /**
     * out (M, O) = GELU(in (M, K) * weight (O, K)^T + bias (O)): the first half of an MLP, fusable.
     *
     * @param out (M, O)
     * @param in (M, K)
     * @param weight (O, K)
     * @param bias (O), or null
     */
    default void linearGelu(Tensor out, Tensor in, Tensor weight, Tensor bias) {
        linear(out, in, weight, bias);
        gelu(out);
    }

    /**
     * x (M, O) += gamma (O) * (in (M, K) * weight (O, K)^T + bias (O)): a projection and its
     * residual update with layer scale, fusable. tmp (M, O) is scratch a backend may use.
     *
     * @param x the residual stream (M, O), updated
     * @param in (M, K)
     * @param weight (O, K)
     * @param bias (O), or null
     * @param gamma the layer scale (O), or null for 1
     * @param tmp scratch (M, O)
     */
    default void linearAddScaled(Tensor x, Tensor in, Tensor weight, Tensor bias, Tensor gamma, Tensor tmp) {
        linear(tmp, in, weight, bias);
        addScaled(x, tmp, gamma);
    }

    /**
     * x (M, C) += gamma (C) * fc2(GELU(fc1(in (M, C)))) with fc1 = (weight1 (H, C), bias1),
     * fc2 = (weight2 (C, H), bias2): a whole MLP and its residual update, fusable. hidden
     * (M, H) and tmp (M, C) are scratch whose contents a backend may keep in any format.
     *
     * @param x the residual stream (M, C), updated
     * @param in the MLP's input (M, C)
     * @param weight1 fc1's weight (H, C)
     * @param bias1 fc1's bias (H)
     * @param weight2 fc2's weight (C, H)
     * @param bias2 fc2's bias (C)
     * @param gamma the layer scale (C), or null for 1
     * @param hidden scratch (M, H)
     * @param tmp scratch (M, C)
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
     *
     * @param x the residual stream (M, C), updated
     * @param u scratch (M, C)
     * @param lnGamma the norm's scale (C)
     * @param lnBeta the norm's shift (C)
     * @param eps the norm's epsilon
     * @param weight1 fc1's weight (H, C)
     * @param bias1 fc1's bias (H)
     * @param weight2 fc2's weight (C, H)
     * @param bias2 fc2's bias (C)
     * @param gamma the layer scale (C), or null for 1
     * @param hidden scratch (M, H)
     * @param tmp scratch (M, C)
     */
    default void layerNormMlpAddScaled(Tensor x, Tensor u, Tensor lnGamma, Tensor lnBeta, float eps, Tensor weight1,
                                       Tensor bias1, Tensor weight2, Tensor bias2, Tensor gamma, Tensor hidden, Tensor tmp) {
        layerNorm(u, x, lnGamma, lnBeta, eps);
        mlpAddScaled(x, u, weight1, bias1, weight2, bias2, gamma, hidden, tmp);
    }

    /**
     * In place exact (erf) GELU: x = x/2 * (1 + erf(x / sqrt 2)).
     *
     * @param x any shape, replaced by its GELU
     */
    void gelu(Tensor x);

    /**
     * x (R, C) += gamma (C) * y (R, C), gamma broadcast over rows; gamma null means 1.
     *
     * @param x (R, C), updated
     * @param y (R, C)
     * @param gamma (C), or null for 1
     */
    void addScaled(Tensor x, Tensor y, Tensor gamma);

    /**
     * The residual update and the next LayerNorm: x (R, C) += gamma (C) * y (R, C), then
     * out = layerNorm(x) as {@link #layerNorm}; out must not alias x or y. The default is
     * exactly those two ops; a backend may fuse them into one pass (CudaBackend does).
     *
     * @param x the residual stream (R, C), updated
     * @param out LN(x) (R, C)
     * @param y the branch output (R, C)
     * @param gamma the layer scale (C), or null for 1
     * @param lnGamma the norm's scale (C)
     * @param lnBeta the norm's shift (C)
     * @param eps the norm's epsilon
     */
    default void addScaledLayerNorm(Tensor x, Tensor out, Tensor y, Tensor gamma, Tensor lnGamma, Tensor lnBeta, float eps) {
        addScaled(x, y, gamma);
        layerNorm(out, x, lnGamma, lnBeta, eps);
    }

    /**
     * x (B, N, C) += rows (N, C) for every image of the batch.
     *
     * @param x (B, N, C), updated
     * @param rows (N, C)
     */
    void addBroadcast(Tensor x, Tensor rows);

    /**
     * out (B, H, W, Cin) = in (B, Cin, H, W): the input image to channel-last.
     *
     * @param out (B, H, W, Cin)
     * @param in (B, Cin, H, W)
     */
    void nchwToNhwc(Tensor out, Tensor in);

    /**
     * out (B, S, R) = in (B, R, S), activations (out and in do not alias). On host backends,
     * where every tensor is fp32, this is {@link #nchwToNhwc} on (B, R, S, 1) views; a device
     * that stores activations in 16 bits must not read them as the fp32 input image.
     *
     * @param out (B, S, R)
     * @param in (B, R, S)
     * @param batch B
     * @param rows R
     * @param cols S
     */
    default void transpose(Tensor out, Tensor in, long batch, long rows, long cols) {
        nchwToNhwc(out.reshape(batch, cols, 1, rows), in.reshape(batch, rows, cols, 1));
    }

    /**
     * 3x3 convolution, stride 2, zero padding 1, then GELU (as {@link #gelu}) if {@code gelu}:
     * out (B, R, ceil(W/2), Cout) = output rows [firstRow, firstRow + R) of
     * conv(in (B, H, W, Cin), weight (Cout, Cin, 3, 3)) + bias (Cout), firstRow + R &lt;= ceil(H/2).
     * The whole output is firstRow 0, R = ceil(H/2); a band of it (where {@link #convRowBands})
     * lets the patch embedding run band by band, so its large stage outputs never exist whole.
     *
     * @param out (B, R, ceil(W/2), Cout), channel-last
     * @param in (B, H, W, Cin), channel-last
     * @param firstRow the first output row computed
     * @param weight (Cout, Cin, 3, 3)
     * @param bias (Cout)
     * @param gelu whether GELU follows
     */
    void conv3x3s2(Tensor out, Tensor in, int firstRow, Tensor weight, Tensor bias, boolean gelu);

    /**
     * {@link #conv3x3s2} on a channel-first in (B, Cin, H, W), such as a session's (B, 3, H, W)
     * input: the patch embedding's first stage reads the caller's image in place, band by band,
     * with no channel-last copy of it. Where {@link #convRowBands}; the default refuses.
     *
     * @param out (B, R, ceil(W/2), Cout), channel-last
     * @param in (B, Cin, H, W), channel-first
     * @param firstRow the first output row computed
     * @param weight (Cout, Cin, 3, 3)
     * @param bias (Cout)
     * @param gelu whether GELU follows
     */
    default void conv3x3s2ChannelsFirst(Tensor out, Tensor in, int firstRow, Tensor weight, Tensor bias, boolean gelu) {
        throw new UnsupportedOperationException(name() + " does not run conv3x3s2 on channel-first input (convRowBands is false)");
    }

    /**
     * Whether {@link #conv3x3s2} computes bands of output rows (firstRow > 0 or R &lt; ceil(H/2))
     * and {@link #conv3x3s2ChannelsFirst} exists. A backend that answers false is only asked for
     * whole outputs of channel-last input, and its sessions hold every patch-embedding stage whole.
     *
     * @return whether bands of output rows and channel-first input are supported
     */
    default boolean convRowBands() {
        return true;
    }

    /**
     * Cross-covariance attention core for every image and head: from qkv (B, N, 3C)
     * (feature s*C + head*d + i, s = q, k, v) compute, per head, the d x d matrix
     * A = softmax_j(temperature[head] * &lt;q_i, k_j&gt; / (max(|q_i|, 1e-12) max(|k_j|, 1e-12)))
     * with the inner products over tokens, and out (B, N, C) [n, head*d + i] = sum_j A[i, j] v[n, head*d + j].
     *
     * @param out (B, N, C)
     * @param qkv (B, N, 3C)
     * @param temperature (heads)
     * @param heads the number of heads; d = C / heads
     */
    void xca(Tensor out, Tensor qkv, Tensor temperature, int heads);

    /**
     * The first pass of {@link #xca} over a chunk of tokens of ONE image, for streamed blocks:
     * stats (heads, d, d + 2) = (accumulate ? stats : 0) + sums over the M rows of qk (M, 2C) (q in features [0, C), k in
     * [C, 2C)) of [h, i, j] q[h*d+i] k[h*d+j] for j &lt; d, [h, i, d] q[h*d+i]^2 and
     * [h, i, d+1] k[h*d+i]^2. Chunk after chunk, it accumulates the Gram matrices and squared
     * row norms of every head over all tokens. Sums of a chunk may be formed in any precision
     * >= float32 before they are added.
     *
     * @param stats (heads, d, d + 2), accumulated into or overwritten
     * @param qk (M, 2C), or the q and k features of (M, 3C) rows
     * @param heads the number of heads
     * @param accumulate whether to add to stats rather than overwrite it
     */
    void xcaGram(Tensor stats, Tensor qk, int heads, boolean accumulate);

    /**
     * The attention of {@link #xca} from accumulated stats (heads, d, d + 2) (see {@link #xcaGram}):
     * attn (C, C) is block-diagonal, block h = softmax_j(temperature[h] * G[h, i, j] /
     * (max(sqrt(qn[h, i]), 1e-12) max(sqrt(kn[h, j]), 1e-12))), zero off the blocks, so that
     * {@code linear(out, v, attn, null)} gives out[n, h*d + i] = sum_j A[h, i, j] v[n, h*d + j].
     *
     * @param attn (C, C), block-diagonal
     * @param stats (heads, d, d + 2) over all tokens
     * @param temperature (heads)
     */
    void xcaSoftmax(Tensor attn, Tensor stats, Tensor temperature);

    /**
     * out (M, C) [n, h*d + i] = sum_j attn[h*d + i, h*d + j] v[n, h*d + j]: the attention of
     * {@link #xcaSoftmax} applied to a chunk of v (M, C). Only attn's diagonal blocks are
     * read, and attn changes with every input, so it must not be treated as a fixed weight.
     * The default is {@code linear(out, v, attn, null)}, exact since the other blocks are zero,
     * for backends whose linear reads the weight on every call. out must not alias v.
     *
     * @param out (M, C)
     * @param v (M, C)
     * @param attn (C, C) from xcaSoftmax
     * @param heads the number of heads
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
     *
     * @param tokens N, tokens per image
     * @param channels C
     * @return whether to take the covariance-folded route
     */
    default boolean foldsStreamedXca(long tokens, long channels) {
        return false;
    }

    /**
     * stats (C + 1, C) = [u^T u ; column sums of u] of a band u (M, C) of one image, added to
     * stats when {@code accumulate}: over all bands, what the covariance-folded attention
     * needs of the image's normalised tokens (spec section 3).
     *
     * @param stats (C + 1, C)
     * @param u a band of normalised tokens (M, C)
     * @param accumulate whether to add to stats rather than overwrite it
     */
    default void xcaCovAccumulate(Tensor stats, Tensor u, boolean accumulate) {
        throw new UnsupportedOperationException(name() + " does not fold streamed XCA (foldsStreamedXca is false)");
    }

    /**
     * folded (C + 1, C) = [W' ; b']: one image's whole attention branch, gamma included (null
     * means 1), as one Linear, from its {@link #xcaCovAccumulate} stats over {@code tokens}
     * tokens and the weights of {@link #xcaAddScaled}.
     *
     * @param folded (C + 1, C): [W' ; b']
     * @param stats (C + 1, C) over all of the image's tokens
     * @param tokens N
     * @param qkvWeight (3C, C)
     * @param qkvBias (3C)
     * @param temperature (heads)
     * @param heads the number of heads
     * @param projWeight (C, C)
     * @param projBias (C)
     * @param gamma the layer scale (C), or null for 1
     */
    default void xcaCovFold(Tensor folded, Tensor stats, long tokens, Tensor qkvWeight, Tensor qkvBias, Tensor temperature,
                            int heads, Tensor projWeight, Tensor projBias, Tensor gamma) {
        throw new UnsupportedOperationException(name() + " does not fold streamed XCA (foldsStreamedXca is false)");
    }

    /**
     * x (M, C) += u (M, C) W'^T + b' with folded = [W' ; b'] from {@link #xcaCovFold}: the
     * attention branch applied to a band. W' changes with every image, so it is never packed.
     *
     * @param x a band of the residual stream (M, C), updated
     * @param u the same band normalised (M, C)
     * @param folded (C + 1, C) from xcaCovFold
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
     *
     * @param x the residual stream (B, N, C), updated
     * @param u LN(x) (B, N, C)
     * @param qkvWeight (3C, C)
     * @param qkvBias (3C)
     * @param temperature (heads)
     * @param heads the number of heads
     * @param projWeight (C, C)
     * @param projBias (C)
     * @param gamma the layer scale (C), or null for 1
     * @param qkvBuf scratch (B, N, 3C), or null where unused
     * @param attnBuf scratch (B, N, C), or null where unused
     * @param tmp scratch (B, N, C), or null where unused
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
     *
     * @param tokens N
     * @param channels C
     * @return whether qkvBuf and attnBuf are used
     */
    default boolean xcaUsesBuffers(long tokens, long channels) {
        return true;
    }

    /**
     * Whether the residual ops {@link #linearAddScaled}, {@link #xcaAddScaled},
     * {@link #lpiAddScaled}, {@link #mlpAddScaled} and {@link #layerNormMlpAddScaled} use their
     * tmp scratch (the default compositions do). A backend whose versions are all fused answers
     * false; callers may then pass null.
     *
     * @return whether the residual ops use their tmp argument
     */
    default boolean residualOpsUseTmp() {
        return true;
    }

    /**
     * Local patch interaction on a (B, Hp, Wp, C) channel-last grid: depthwise conv3x3
     * (pad 1, weight1 (C, 9), bias1) -> GELU -> per-channel affine (bnScale, bnShift: the
     * BatchNorm in inference form) -> depthwise conv3x3 (pad 1, weight2, bias2), zero padding
     * applied to the affine's output. out must not alias in.
     *
     * @param out (B, Hp, Wp, C)
     * @param in (B, Hp, Wp, C)
     * @param gridH Hp
     * @param gridW Wp
     * @param weight1 the first depthwise conv (C, 9)
     * @param bias1 (C)
     * @param bnScale the BatchNorm's scale (C)
     * @param bnShift the BatchNorm's shift (C)
     * @param weight2 the second depthwise conv (C, 9)
     * @param bias2 (C)
     */
    void lpi(Tensor out, Tensor in, int gridH, int gridW, Tensor weight1, Tensor bias1,
             Tensor bnScale, Tensor bnShift, Tensor weight2, Tensor bias2);

    /**
     * x (B, Hp*Wp, C) += gamma (C) * LPI(in) with LPI as in {@link #lpi}: the block's residual
     * update, fusable. tmp (like in) is scratch a backend may use; x must not alias in.
     *
     * @param x the residual stream (B, Hp*Wp, C), updated
     * @param in LN(x) (B, Hp*Wp, C)
     * @param gridH Hp
     * @param gridW Wp
     * @param weight1 the first depthwise conv (C, 9)
     * @param bias1 (C)
     * @param bnScale the BatchNorm's scale (C)
     * @param bnShift the BatchNorm's shift (C)
     * @param weight2 the second depthwise conv (C, 9)
     * @param bias2 (C)
     * @param gamma the layer scale (C), or null for 1
     * @param tmp scratch like in
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
     *
     * @param out (B, C)
     * @param weights (B, heads, T), or null
     * @param q (B, C)
     * @param kv (B, T, 2C)
     * @param heads the number of heads
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
     *
     * @return whether class attention is computed without k and v
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
     *
     * @param out (B, C)
     * @param weights (B, heads, T), or null
     * @param q the cls queries (B, C)
     * @param u the normalised rows (B, T, C)
     * @param kvWeight (2C, C)
     * @param kvBias (2C)
     * @param heads the number of heads
     * @param kvBuf scratch (B, T, 2C), or null on a folding backend
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
     *
     * @param out (B, C)
     * @param weights (B, heads, T), or null
     * @param u the normalised rows (B, T, C), each image's cls row first
     * @param qWeight (C, C)
     * @param qBias (C)
     * @param kvWeight (2C, C)
     * @param kvBias (2C)
     * @param heads the number of heads
     * @param u0 scratch (B, C): the cls rows of u
     * @param q scratch (B, C): the cls queries
     * @param kvBuf scratch (B, T, 2C), or null on a folding backend
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
     *
     * @param x the stage (B, T, C), updated in place
     * @param u out: the normalised rows (B, T, C)
     * @param cls out: the cls rows of x on entry (B, C)
     * @param lnGamma1 LN1's weight (C)
     * @param lnBeta1 LN1's bias (C)
     * @param gamma1 the attention branch's layer scale (C)
     * @param lnGamma2 LN2's weight (C), or null for no tokens_norm
     * @param lnBeta2 LN2's bias (C), or null with lnGamma2
     * @param eps the LayerNorms' epsilon
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
     *
     * @param keys (heads, C + 1)
     * @param q the cls query (C)
     * @param kWeight (C, C)
     * @param kBias (C), or null
     */
    default void classAttentionFoldQuery(Tensor keys, Tensor q, Tensor kWeight, Tensor kBias) {
        throw new UnsupportedOperationException(name() + " does not fold class attention (foldsClassAttention is false)");
    }

    /**
     * The scores pass of folded class attention over a chunk of rows of ONE image:
     * scores (heads, T) [h, offset + t] = u[t] . keys[h, :C] + keys[h, C] for the M rows of
     * u (M, C), keys from {@link #classAttentionFoldQuery}: q_h . k_{t,h} / sqrt d without k.
     * The other columns are left as they are.
     *
     * @param scores (heads, T)
     * @param offset the chunk's first row
     * @param keys (heads, C + 1) from classAttentionFoldQuery
     * @param u the chunk's normalised rows (M, C)
     */
    default void classAttentionFoldedScores(Tensor scores, long offset, Tensor keys, Tensor u) {
        throw new UnsupportedOperationException(name() + " does not fold class attention (foldsClassAttention is false)");
    }

    /**
     * x (R, S) = softmax along each row (over S), in place.
     *
     * @param x (R, S), replaced row by row
     */
    void softmaxRows(Tensor x);

    /**
     * The weighted-sum pass of folded class attention over a chunk of rows of ONE image:
     * ubar (heads, C) [h, c] = (accumulate ? ubar : 0) + sum over the M rows t of u (M, C) of
     * weights (heads, T) [h, offset + t] * u[t, c].
     *
     * @param ubar (heads, C)
     * @param weights the soft-maxed scores (heads, T)
     * @param offset the chunk's first row
     * @param u the chunk's normalised rows (M, C)
     * @param accumulate whether to add to ubar rather than overwrite it
     */
    default void classAttentionFoldedSum(Tensor ubar, Tensor weights, long offset, Tensor u, boolean accumulate) {
        throw new UnsupportedOperationException(name() + " does not fold class attention (foldsClassAttention is false)");
    }

    /**
     * The last step of folded class attention for ONE image: out (C) [h*d + j] =
     * vWeight (C, C) [h*d + j, :] . ubar[h, :] + vBias[h*d + j] (vBias null: no bias), with
     * ubar (heads, C) from {@link #classAttentionFoldedSum} over all T rows: sum_t a_t v_{t, h*d + j}.
     *
     * @param out (C)
     * @param ubar (heads, C) over all T rows
     * @param vWeight (C, C)
     * @param vBias (C), or null
     */
    default void classAttentionFoldedOut(Tensor out, Tensor ubar, Tensor vWeight, Tensor vBias) {
        throw new UnsupportedOperationException(name() + " does not fold class attention (foldsClassAttention is false)");
    }

    /**
     * x (R, C) = x * scale (C) + shift (C), in place: an inference BatchNorm.
     *
     * @param x (R, C), updated
     * @param scale (C)
     * @param shift (C)
     */
    void channelAffine(Tensor x, Tensor scale, Tensor shift);

    /**
     * 2x2 transposed convolution, stride 2: out (B, 2H, 2W, Cout) [b, 2y+i, 2x+j, o] =
     * bias[o] + sum_c in (B, H, W, Cin) [b, y, x, c] * weight (Cin, Cout, 2, 2) [c, o, i, j].
     *
     * @param out (B, 2H, 2W, Cout)
     * @param in (B, H, W, Cin)
     * @param weight (Cin, Cout, 2, 2)
     * @param bias (Cout)
     */
    void convTranspose2x2(Tensor out, Tensor in, Tensor weight, Tensor bias);

    /**
     * k x k max pooling, stride k, no padding (floor): out (B, H/k, W/k, C) from in (B, H, W, C).
     *
     * @param out (B, H/k, W/k, C)
     * @param in (B, H, W, C)
     * @param k the window and stride
     */
    void maxPool(Tensor out, Tensor in, int k);

    /**
     * out (B, C) = in (B, R, C)[:, row, :].
     *
     * @param out (B, C)
     * @param in (B, R, C)
     * @param row the row taken
     */
    void gatherRow(Tensor out, Tensor in, int row);

    /**
     * out (B, R, C)[:, row, :] = in (B, C).
     *
     * @param out (B, R, C)
     * @param row the row written
     * @param in (B, C)
     */
    void scatterRow(Tensor out, int row, Tensor in);

    /**
     * out (B, N + 1, C) = [first (C); tokens (B, N, C)] for every image: prepends the cls token.
     *
     * @param out (B, N + 1, C)
     * @param first the cls token (C)
     * @param tokens (B, N, C)
     */
    void prependRow(Tensor out, Tensor first, Tensor tokens);

    /**
     * Frees what the backend holds natively; closing twice is harmless.
     */
    @Override
    void close();
}
