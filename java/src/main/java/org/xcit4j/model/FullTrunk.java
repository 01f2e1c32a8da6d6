package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.MemoryPlan;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The unchunked trunk: the channel-last image, every patch-embedding stage and one set of
 * block buffers for all tokens. Steps: 0 converts the image, stage s writes in step s + 1,
 * the blocks run in step stages + 1. The last stage's output is the residual stream.
 */
final class FullTrunk extends Trunk {
    private final int stages;
    private Tensor image;
    private Tensor[] stageOut;
    private Tensor position;
    private Tensor posFeatures;
    private XcaBlock.Buffers blockBuffers;

    FullTrunk(Xcit model, Backend backend, int batch, int height, int width) {
        super(model, backend, batch, height, width);
        this.stages = model.config().patchStages();
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
        p.add("image", Shape.of(b, height, width, 3), 0, 1)
                .add("posFeatures", Shape.of(n, 2 * FourierPosition.HIDDEN), 0, 0)
                .add("position", Shape.of(n, c), 0, lastStep);
        for (int i = 0; i < stages; i++) {
            p.add("stage" + i, PatchEmbed.stageShape(cfg, i, b, height, width), i + 1, i == stages - 1 ? lastStep : i + 2);
        }
        p.add("u", Shape.of(b, n, c), s, s)
                .add("y", Shape.of(b, n, c), s, s)
                .add("attn", Shape.of(b, n, c), s, s)
                .add("qkv", Shape.of(b, n, 3L * c), s, s)
                .add("hidden", Shape.of(b, n, cfg.hiddenDim()), s, s);
    }

    @Override
    void bind(MemoryPlan plan) {
        image = plan.tensor("image");
        stageOut = new Tensor[stages];
        for (int i = 0; i < stages; i++) stageOut[i] = plan.tensor("stage" + i);
        blockBuffers = new XcaBlock.Buffers(plan.tensor("u"), plan.tensor("y"), plan.tensor("attn"),
                plan.tensor("qkv"), plan.tensor("hidden"));
        // The last stage's (B, Hp, Wp, C) output is the (B, N, C) residual stream.
        tokens = stageOut[stages - 1].reshape(tokensShape().dims());
        position = plan.tensor("position");
        posFeatures = plan.tensor("posFeatures");
        FourierPosition.features(posFeatures, gridH, gridW);
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
        backend.nchwToNhwc(image, input);
        model.patchEmbed().forward(backend, image, stageOut);
        backend.addBroadcast(tokens, position);
        for (int i = 0; i < model.blocks().size(); i++) {
            model.blocks().get(i).forward(backend, tokens, gridH, gridW, blockBuffers);
            hook.afterBlock(i, tokens);
        }
    }
}
