package org.xcit4j.model;

import java.lang.foreign.Arena;
import java.util.List;
import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.MemoryPlan;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Classification inference for one input shape (B, 3, H, W) on one backend. All activation
 * memory is planned once, here, so {@link #run} allocates nothing; the outputs it returns are
 * views into that memory, valid until the next run or {@link #close()}.
 */
public final class Session implements AutoCloseable {

    /**
     * What one forward produces; {@code logits} is null for a checkpoint without a head.
     * {@code clsAttention} (B, heads, Hp, Wp) holds the last class-attention block's softmax
     * weights of the cls query over the patches (the cls -> cls weight left out, so a map
     * sums to 1 minus that weight).
     */
    public record Outputs(Tensor logits, Tensor features, Tensor tokens, Tensor clsAttention) {
    }

    private final Xcit model;
    private final Backend backend;
    private final boolean ownsBackend;
    private final Shape inputShape;
    private final Trunk trunk;
    private final Arena arena = Arena.ofShared();
    private final MemoryPlan plan;
    private final Tensor clsRows;
    private final ClassAttentionBlock.Buffers clsBuffers;
    private final Tensor clsWeights;
    private final Tensor clsWeightsScratch;
    private final Outputs outputs;
    private boolean closed;

    Session(Xcit model, Backend backend, boolean ownsBackend, int batch, int height, int width, SessionOptions options) {
        XcitConfig cfg = model.config();
        this.model = model;
        this.backend = backend;
        this.ownsBackend = ownsBackend;
        this.inputShape = Shape.of(batch, 3, height, width);
        this.trunk = Trunk.create(model, backend, batch, height, width, options);
        int b = batch, c = cfg.embedDim(), n = trunk.gridH * trunk.gridW, t = n + 1, heads = cfg.numHeads();

        // Steps: the trunk's, then class attention, then the head; the residual stream is the
        // tokens output, so it lives to the end.
        int clsStep = trunk.blocksStep() + 1, headStep = clsStep + 1;
        MemoryPlan.Builder p = MemoryPlan.builder();
        trunk.declare(p, headStep);
        p.add("clsRows", Shape.of(b, t, c), clsStep, headStep)
                .add("clsU", Shape.of(b, t, c), clsStep, clsStep)
                .add("clsKv", Shape.of(b, t, 2L * c), clsStep, clsStep)
                .add("cls", Shape.of(b, c), clsStep, headStep)
                .add("clsQ", Shape.of(b, c), clsStep, clsStep)
                .add("clsAttn", Shape.of(b, c), clsStep, clsStep)
                .add("clsOut", Shape.of(b, c), clsStep, clsStep)
                .add("clsHidden", Shape.of(b, cfg.hiddenDim()), clsStep, clsStep)
                .add("clsWeights", Shape.of(b, heads, t), clsStep, clsStep)
                .add("clsWeightsT", Shape.of((long) t * b * heads), clsStep, clsStep)
                .add("clsMaps", Shape.of(b, heads, trunk.gridH, trunk.gridW), clsStep, headStep)
                .add("features", Shape.of(b, c), headStep, headStep)
                .add("logits", Shape.of(b, Math.max(cfg.numClasses(), 1)), headStep, headStep);
        try {
            this.plan = p.allocate(arena);
            trunk.bind(plan);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
        this.clsRows = plan.tensor("clsRows");
        this.clsBuffers = new ClassAttentionBlock.Buffers(plan.tensor("clsU"),
                new ClassAttention.Buffers(plan.tensor("cls"), plan.tensor("clsQ"), plan.tensor("clsKv"), plan.tensor("clsAttn")),
                plan.tensor("clsOut"), plan.tensor("clsHidden"));
        this.clsWeights = plan.tensor("clsWeights");
        this.clsWeightsScratch = plan.tensor("clsWeightsT");
        this.outputs = new Outputs(cfg.numClasses() > 0 ? plan.tensor("logits") : null, plan.tensor("features"),
                trunk.tokens(), plan.tensor("clsMaps"));
    }

    public Shape inputShape() {
        return inputShape;
    }

    /** Token grid (Hp, Wp) of this session's input size. */
    public int gridHeight() {
        return trunk.gridH;
    }

    public int gridWidth() {
        return trunk.gridW;
    }

    public Backend backend() {
        return backend;
    }

    /** Bytes of activation memory the plan reserved. */
    public long activationBytes() {
        return plan.bytes();
    }

    /** Whether the trunk runs streamed (bands and chunks) rather than with full-size block buffers. */
    public boolean streamed() {
        return trunk.streamed();
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
        trunk.run(input, (i, x) -> { });
        Tensor tokens = trunk.tokens();
        backend.prependRow(clsRows, model.clsToken(), tokens);
        List<ClassAttentionBlock> blocks = model.clsBlocks();
        for (int i = 0; i < blocks.size(); i++) {
            blocks.get(i).forward(backend, clsRows, i == blocks.size() - 1 ? clsWeights : null, clsBuffers);
        }
        int rows = inputShape.size(0) * model.config().numHeads(), t = clsWeights.shape().size(2);
        DataMoves.dropFirstColumn(backend, outputs.clsAttention(), clsWeights, clsWeightsScratch, rows, t);
        backend.gatherRow(outputs.features(), clsRows, 0);
        model.norm().forward(backend, outputs.features(), outputs.features());
        if (outputs.logits() != null) model.head().forward(backend, outputs.logits(), outputs.features());
        return outputs;
    }

    /** Frees the activation memory (and the backend if the session opened it); closing twice is harmless. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            arena.close();
            if (ownsBackend) backend.close();
        }
    }
}
