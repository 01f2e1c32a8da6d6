package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.MemoryPlan;
import org.xcit4j.tensor.Tensor;

/**
 * The trunk in bands of token rows ({@link StreamedPatchEmbed}, {@link StreamedBlock}): the
 * residual stream (B, N, C) is the only buffer that grows with the image; the rest is sized
 * for one band (plus halos) of {@code bandRows} rows in the blocks, of {@code patchBandRows}
 * in the patch embedding. The patch embedding takes the first steps, the blocks the next
 * one, so the two sets of band buffers share bytes.
 */
final class StreamedTrunk extends Trunk {
    private final int bandRows;
    private final StreamedPatchEmbed patchEmbed;
    private StreamedBlock.Buffers blockBuffers;

    StreamedTrunk(Xcit model, Backend backend, int batch, int height, int width, int bandRows, int patchBandRows) {
        super(model, backend, batch, height, width);
        this.bandRows = bandRows;
        this.patchEmbed = new StreamedPatchEmbed(model, backend, height, width, gridH, gridW, patchBandRows, false);
    }

    int bandRows() {
        return bandRows;
    }

    @Override
    int blocksStep() {
        return patchEmbed.steps();
    }

    @Override
    boolean streamed() {
        return true;
    }

    @Override
    void declare(MemoryPlan.Builder p, int lastStep) {
        p.add("tokens", tokensShape(), 0, lastStep);
        patchEmbed.declare(p, 0);
        StreamedBlock.declare(p, model.config(), bandRows, gridW, blocksStep());
    }

    @Override
    void bind(MemoryPlan plan) {
        tokens = plan.tensor("tokens");
        patchEmbed.bind(plan, tokens, null);
        blockBuffers = StreamedBlock.bind(plan);
    }

    /** Positions are computed band by band during each run: nothing to do once. */
    @Override
    void setup() {
    }

    @Override
    java.util.List<Tensor> hostInitialised() {
        return java.util.List.of();
    }

    @Override
    void run(Tensor input, BlockHook hook) {
        patchEmbed.forward(input);
        long n = (long) gridH * gridW;
        for (int i = 0; i < model.blocks().size(); i++) {
            XcaBlock block = model.blocks().get(i);
            for (int img = 0; img < batch; img++) {
                StreamedBlock.forward(backend, block, tokens.slice(img, img + 1).reshape(n, channels), gridH, gridW, bandRows,
                        blockBuffers);
            }
            hook.afterBlock(i, tokens);
        }
    }
}
