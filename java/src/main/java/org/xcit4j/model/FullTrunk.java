package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.MemoryPlan;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The unchunked trunk: one set of block buffers for all tokens, planned for what the backend
 * uses (no qkv/attn where its attention route does not read them, no tmp where its residual
 * ops are fused). The patch embedding runs in bands of token rows ({@link StreamedPatchEmbed})
 * where the backend computes conv row bands, so its stage outputs (at 1024 x 1024 the first
 * is 50 MB, 8x the tokens) never exist whole; it reads the input image in place. Otherwise
 * every stage is whole: step 0 converts the image, stage s writes in step s + 1, and the last
 * stage's output is the residual stream. Either way the blocks run in step stages + 1.
 */
final class FullTrunk extends Trunk {
    /**
     * About this many tokens per patch-embedding band. Band height costs no time here (one
     * thread, xcit_small p16 at 1024 x 1024: 102.8-105.6 ms for bands of 256 to 2048 tokens,
     * 104.5 ms whole), and fewer bands mean fewer parallel regions; the band buffers (p16: about
     * 1.4 MB per 64 tokens, mostly the first stage's rows) stay below what the blocks need
     * (1024 x 1024: 35 MB against 44 MB with the cpu backend's block buffers).
     */
    static final int TOKENS_PER_PATCH_BAND = 1024;

    private final int stages;
    private final StreamedPatchEmbed bands; // null: whole stages
    /** What the backend's block ops read besides u and hidden (asked once: its answer sizes the plan). */
    private final boolean tmpBuffer, xcaBuffers;
    private Tensor image;
    private Tensor[] stageOut;
    private Tensor position;
    private Tensor posFeatures;
    private XcaBlock.Buffers blockBuffers;

    FullTrunk(Xcit model, Backend backend, int batch, int height, int width) {
        super(model, backend, batch, height, width);
        this.stages = model.config().patchStages();
        this.bands = backend.convRowBands()
                ? new StreamedPatchEmbed(model, backend, height, width, gridH, gridW, patchBandRows(gridH, gridW), true)
                : null;
        this.tmpBuffer = backend.residualOpsUseTmp();
        this.xcaBuffers = backend.xcaUsesBuffers((long) gridH * gridW, channels);
    }

    static int patchBandRows(int gridH, int gridW) {
        return Math.max(1, Math.min(gridH, (TOKENS_PER_PATCH_BAND + gridW - 1) / gridW));
    }

    @Override
    int blocksStep() {
        return stages + 1;
    }

    @Override
    boolean streamed() {
        return false;
    }

    @Override
    void declare(MemoryPlan.Builder p, int lastStep) {
        XcitConfig cfg = model.config();
        int b = batch, c = channels, n = gridH * gridW, s = blocksStep();
        // The position is computed once, at bind time, and read by every run: it lives throughout.
        // Its raw features are needed only at bind time, when nothing else is live.
        p.add("posFeatures", Shape.of(n, 2 * FourierPosition.HIDDEN), 0, 0)
                .add("position", Shape.of(n, c), 0, lastStep);
        if (bands != null) {
            p.add("tokens", tokensShape(), bands.tokensFrom(1, b), lastStep);
            bands.declare(p, 1);
        } else {
            p.add("image", Shape.of(b, height, width, 3), 0, 1);
            for (int i = 0; i < stages; i++) {
                p.add("stage" + i, PatchEmbed.stageShape(cfg, i, b, height, width), i + 1, i == stages - 1 ? lastStep : i + 2);
            }
        }
        p.add("u", Shape.of(b, n, c), s, s).add("hidden", Shape.of(b, n, cfg.hiddenDim()), s, s);
        if (tmpBuffer) p.add("y", Shape.of(b, n, c), s, s);
        if (xcaBuffers) p.add("attn", Shape.of(b, n, c), s, s).add("qkv", Shape.of(b, n, 3L * c), s, s);
    }

    @Override
    void bind(MemoryPlan plan) {
        position = plan.tensor("position");
        posFeatures = plan.tensor("posFeatures");
        FourierPosition.features(posFeatures, gridH, gridW);
        if (bands != null) {
            tokens = plan.tensor("tokens");
            bands.bind(plan, tokens, position);
        } else {
            image = plan.tensor("image");
            stageOut = new Tensor[stages];
            for (int i = 0; i < stages; i++) stageOut[i] = plan.tensor("stage" + i);
            // The last stage's (B, Hp, Wp, C) output is the (B, N, C) residual stream.
            tokens = stageOut[stages - 1].reshape(tokensShape().dims());
        }
        blockBuffers = new XcaBlock.Buffers(plan.tensor("u"), tmpBuffer ? plan.tensor("y") : null,
                xcaBuffers ? plan.tensor("attn") : null, xcaBuffers ? plan.tensor("qkv") : null, plan.tensor("hidden"));
    }

    @Override
    void setup() {
        model.position().project(backend, position, posFeatures);
    }

    @Override
    java.util.List<Tensor> hostInitialised() {
        return java.util.List.of(posFeatures);
    }

    @Override
    void run(Tensor input, BlockHook hook) {
        if (bands != null) {
            bands.forward(input);
        } else {
            backend.nchwToNhwc(image, input);
            model.patchEmbed().forward(backend, image, stageOut);
            backend.addBroadcast(tokens, position);
        }
        for (int i = 0; i < model.blocks().size(); i++) {
            model.blocks().get(i).forward(backend, tokens, gridH, gridW, blockBuffers);
            hook.afterBlock(i, tokens);
        }
    }
}
