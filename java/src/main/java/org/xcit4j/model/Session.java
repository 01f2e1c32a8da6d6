package org.xcit4j.model;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.MemoryPlan;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Inference for one input shape (B, 3, H, W) on one backend. All activation memory is planned
 * once, here, so {@link #run} allocates nothing; the outputs it returns are views into that
 * memory, valid until the next run or {@link #close()}.
 */
public final class Session implements AutoCloseable {

    /** What one forward produces; {@code logits} is null for a checkpoint without a head. */
    public record Outputs(Tensor logits, Tensor features, Tensor tokens) {
    }

    private final Xcit model;
    private final Backend backend;
    private final boolean ownsBackend;
    private final Shape inputShape;
    private final int gridH, gridW;
    private final Arena arena = Arena.ofShared();
    private final MemoryPlan plan;
    private final Tensor inputSlot;
    private final Tensor image;
    private final Tensor[] stageOut;
    private final Tensor position;
    private final XcaBlock.Buffers blockBuffers;
    private final Tensor clsRows;
    private final ClassAttentionBlock.Buffers clsBuffers;
    private final Tensor tokens;
    private final Outputs outputs;
    private final Tensor posFeatures;
    private final Backend.Forward forward = new PlannedForward();
    private boolean closed;

    Session(Xcit model, Backend backend, boolean ownsBackend, int batch, int height, int width) {
        if (batch < 1 || height < 1 || width < 1) {
            throw new IllegalArgumentException("input shape (" + batch + ", 3, " + height + ", " + width + ") must be positive");
        }
        XcitConfig cfg = model.config();
        this.model = model;
        this.backend = backend;
        this.ownsBackend = ownsBackend;
        this.inputShape = Shape.of(batch, 3, height, width);
        this.gridH = cfg.gridSide(height);
        this.gridW = cfg.gridSide(width);
        int b = batch, c = cfg.embedDim(), n = gridH * gridW, t = n + 1, stages = cfg.patchStages();

        // Steps: 0 converts the image, 1..stages run the patch-embedding convs (stage s writes in
        // step s + 1), then XCA blocks, class attention, head. The last stage's output is the
        // residual stream and, after the blocks, the tokens output, so it lives to the end.
        int blocksStep = stages + 1, clsStep = stages + 2, headStep = stages + 3;
        MemoryPlan.Builder p = MemoryPlan.builder()
                .add("input", inputShape, 0, 0)
                .add("image", Shape.of(b, height, width, 3), 0, 1)
                .add("posFeatures", Shape.of(n, 2 * FourierPosition.HIDDEN), 0, headStep)
                .add("position", Shape.of(n, c), 0, headStep);
        for (int s = 0; s < stages; s++) {
            p.add("stage" + s, PatchEmbed.stageShape(cfg, s, b, height, width), s + 1, s == stages - 1 ? headStep : s + 2);
        }
        p.add("u", Shape.of(b, n, c), blocksStep, blocksStep)
                .add("y", Shape.of(b, n, c), blocksStep, blocksStep)
                .add("attn", Shape.of(b, n, c), blocksStep, blocksStep)
                .add("qkv", Shape.of(b, n, 3L * c), blocksStep, blocksStep)
                .add("hidden", Shape.of(b, n, cfg.hiddenDim()), blocksStep, blocksStep)
                .add("clsRows", Shape.of(b, t, c), clsStep, headStep)
                .add("clsU", Shape.of(b, t, c), clsStep, clsStep)
                .add("clsKv", Shape.of(b, t, 2L * c), clsStep, clsStep)
                .add("cls", Shape.of(b, c), clsStep, headStep)
                .add("clsQ", Shape.of(b, c), clsStep, clsStep)
                .add("clsAttn", Shape.of(b, c), clsStep, clsStep)
                .add("clsOut", Shape.of(b, c), clsStep, clsStep)
                .add("clsHidden", Shape.of(b, cfg.hiddenDim()), clsStep, clsStep)
                .add("features", Shape.of(b, c), headStep, headStep)
                .add("logits", Shape.of(b, Math.max(cfg.numClasses(), 1)), headStep, headStep);
        this.plan = p.allocate(arena);

        this.inputSlot = plan.tensor("input");
        this.image = plan.tensor("image");
        this.stageOut = new Tensor[stages];
        for (int s = 0; s < stages; s++) stageOut[s] = plan.tensor("stage" + s);
        this.blockBuffers = new XcaBlock.Buffers(plan.tensor("u"), plan.tensor("y"), plan.tensor("attn"),
                plan.tensor("qkv"), plan.tensor("hidden"));
        this.clsRows = plan.tensor("clsRows");
        this.clsBuffers = new ClassAttentionBlock.Buffers(plan.tensor("clsU"),
                new ClassAttention.Buffers(plan.tensor("cls"), plan.tensor("clsQ"), plan.tensor("clsKv"), plan.tensor("clsAttn")),
                plan.tensor("clsOut"), plan.tensor("clsHidden"));
        // The last stage's (B, Hp, Wp, C) output is the (B, N, C) residual stream.
        this.tokens = stageOut[stages - 1].reshape(b, n, c);
        this.outputs = new Outputs(cfg.numClasses() > 0 ? plan.tensor("logits") : null, plan.tensor("features"), tokens);

        // The positional encoding depends only on the grid: computed once per session, the
        // features here on the host, the projection in the backend's setup.
        this.position = plan.tensor("position");
        this.posFeatures = plan.tensor("posFeatures");
        FourierPosition.features(posFeatures, gridH, gridW);
        try {
            backend.prepare(forward);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** The session as the backend sees it (Backend.Forward): planned memory and the op sequence. */
    private final class PlannedForward implements Backend.Forward {
        @Override
        public MemorySegment activations() {
            return plan.block();
        }

        @Override
        public Tensor inputSlot() {
            return inputSlot;
        }

        @Override
        public List<Tensor> hostInitialised() {
            return List.of(posFeatures);
        }

        @Override
        public List<Tensor> outputs() {
            List<Tensor> all = new ArrayList<>();
            if (outputs.logits() != null) all.add(outputs.logits());
            all.add(outputs.features());
            all.add(outputs.tokens());
            return all;
        }

        @Override
        public void setup(Backend b) {
            model.position().project(b, position, posFeatures);
        }

        @Override
        public void forward(Backend b) {
            b.nchwToNhwc(image, inputSlot);
            model.patchEmbed().forward(b, image, stageOut);
            b.addBroadcast(tokens, position);
            for (XcaBlock block : model.blocks()) block.forward(b, tokens, gridH, gridW, blockBuffers);

            b.prependRow(clsRows, model.clsToken(), tokens);
            for (ClassAttentionBlock block : model.clsBlocks()) block.forward(b, clsRows, clsBuffers);
            b.gatherRow(outputs.features(), clsRows, 0);
            model.norm().forward(b, outputs.features(), outputs.features());
            if (outputs.logits() != null) model.head().forward(b, outputs.logits(), outputs.features());
        }
    }

    public Shape inputShape() {
        return inputShape;
    }

    /** Token grid (Hp, Wp) of this session's input size. */
    public int gridHeight() {
        return gridH;
    }

    public int gridWidth() {
        return gridW;
    }

    public Backend backend() {
        return backend;
    }

    /**
     * What this session hands its backend to run. For data already on the GPU:
     * {@code ((CudaBackend) session.backend()).execution(session.forward())} gives the device
     * input and output buffers and launches the forward without host copies.
     */
    public Backend.Forward forward() {
        return forward;
    }

    /** Bytes of activation memory the plan reserved. */
    public long activationBytes() {
        return plan.bytes();
    }

    /** Same as {@link #run}. */
    public Outputs forward(Tensor input) {
        return run(input);
    }

    /** Runs the forward on {@code input} (B, 3, H, W), already normalised. */
    public Outputs run(Tensor input) {
        if (closed) throw new IllegalStateException("the session has been closed");
        model.ensureOpen();
        if (!input.shape().equals(inputShape)) {
            throw new IllegalArgumentException("input shape " + input.shape() + " does not match the session's " + inputShape);
        }
        backend.run(forward, input);
        return outputs;
    }

    /** Frees the activation memory (and the backend if the session opened it); closing twice is harmless. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            backend.release(forward);
            arena.close();
            if (ownsBackend) backend.close();
        }
    }
}
