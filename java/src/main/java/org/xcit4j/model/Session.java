package org.xcit4j.model;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.cuda.CudaBackend;
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
     *
     * @param logits (B, classes), or null without a head
     * @param features (B, C): the normalised cls token
     * @param tokens (B, N + 1, C): every normalised row
     * @param clsAttention (B, heads, Hp, Wp)
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
    private final Tensor clsRows; // (B, N + 1, C) of the full stage; null when streamed
    private final StreamedClassAttention streamedCls; // null unless the trunk is streamed
    private final ClassAttentionBlock.Buffers clsBuffers;
    private final Tensor clsWeights;
    private final DataMoves.DropFirstColumn clsMaps;
    private final Outputs outputs;
    private final PlannedForward forward;

    Session(Xcit model, Backend backend, boolean ownsBackend, int batch, int height, int width, SessionOptions options) {
        XcitConfig cfg = model.config();
        this.model = model;
        this.backend = backend;
        this.ownsBackend = ownsBackend;
        this.inputShape = Shape.of(batch, 3, height, width);
        this.trunk = Trunk.create(model, backend, batch, height, width, options);
        if (trunk.streamed() && backend instanceof CudaBackend) {
            throw new IllegalArgumentException("streamed execution runs on host backends (java, cpu), not on cuda; "
                    + "use the full plan (SessionOptions FULL) on the GPU");
        }
        int b = batch, c = cfg.embedDim(), n = trunk.gridH * trunk.gridW, t = n + 1, heads = cfg.numHeads();

        // Steps: the trunk's, then class attention, then the head; the residual stream is the
        // tokens output, so it lives to the end. A streamed trunk gets the streamed stage
        // (chunks of the trunk's band size), which never copies the tokens.
        int clsStep = trunk.blocksStep() + 1, headStep = clsStep + 1;
        MemoryPlan.Builder p = MemoryPlan.builder();
        this.forward = new PlannedForward();
        forward.declare(p, backend);
        trunk.declare(p, headStep);
        this.streamedCls = trunk instanceof StreamedTrunk st
                ? new StreamedClassAttention(model, backend, b, n, (long) st.bandRows() * trunk.gridW) : null;
        if (streamedCls != null) {
            streamedCls.declare(p, clsStep, headStep);
        } else {
            p.add("clsRows", Shape.of(b, t, c), clsStep, headStep)
                    .add("clsU", Shape.of(b, t, c), clsStep, clsStep)
                    .add("cls", Shape.of(b, c), clsStep, headStep)
                    .add("clsQ", Shape.of(b, c), clsStep, clsStep)
                    .add("clsAttn", Shape.of(b, c), clsStep, clsStep)
                    .add("clsOut", Shape.of(b, c), clsStep, clsStep)
                    .add("clsHidden", Shape.of(b, cfg.hiddenDim()), clsStep, clsStep)
                    .add("clsWeights", Shape.of(b, heads, t), clsStep, clsStep);
            // k and v of every row exist only where the backend does not fold them away.
            if (!backend.foldsClassAttention()) p.add("clsKv", Shape.of(b, t, 2L * c), clsStep, clsStep);
        }
        p.add("clsWeightsT", Shape.of((long) t * b * heads), clsStep, clsStep)
                .add("clsMaps", Shape.of(b, heads, trunk.gridH, trunk.gridW), clsStep, headStep)
                .add("features", Shape.of(b, c), headStep, headStep)
                .add("logits", Shape.of(b, Math.max(cfg.numClasses(), 1)), headStep, headStep);
        MemoryBudget.require(p.bytes(), "the activation plan for input " + inputShape);
        this.plan = p.allocate(arena);
        forward.bind(plan, backend);
        if (streamedCls != null) {
            streamedCls.bind(plan);
            this.clsRows = null;
            this.clsBuffers = null;
            this.clsWeights = streamedCls.weights();
        } else {
            this.clsRows = plan.tensor("clsRows");
            // clsOut serves as the attention's u0 scratch and, after it, as the residual ops' tmp.
            this.clsBuffers = new ClassAttentionBlock.Buffers(plan.tensor("clsU"),
                    new ClassAttention.Buffers(plan.tensor("clsOut"), plan.tensor("clsQ"),
                            backend.foldsClassAttention() ? null : plan.tensor("clsKv"), plan.tensor("clsAttn")),
                    plan.tensor("cls"), plan.tensor("clsHidden"), plan.tensor("clsOut"));
            this.clsWeights = plan.tensor("clsWeights");
        }
        try {
            trunk.bind(plan);
            this.outputs = new Outputs(cfg.numClasses() > 0 ? plan.tensor("logits") : null, plan.tensor("features"),
                    trunk.tokens(), plan.tensor("clsMaps"));
            this.clsMaps = DataMoves.DropFirstColumn.of(outputs.clsAttention(), clsWeights, plan.tensor("clsWeightsT"),
                    (long) b * heads, t);
            backend.prepare(forward);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * The session as its backend sees it: the planned memory and the op sequence, split into
     * what runs once (the positional projection) and per input. A device backend uploads and
     * records it (CudaBackend: a CUDA graph); host backends just call it.
     */
    private final class PlannedForward extends TrunkForward {
        PlannedForward() {
            super(trunk, inputShape);
        }

        @Override
        public List<Tensor> outputs() {
            List<Tensor> all = new ArrayList<>();
            if (outputs.logits() != null) all.add(outputs.logits());
            all.add(outputs.features());
            all.add(outputs.tokens());
            all.add(outputs.clsAttention());
            return all;
        }

        /** The modules hold {@link #backend}, which is the {@code b} every backend passes here. */
        @Override
        public void forward(Backend b, Tensor input) {
            trunk.run(input, NO_HOOK);
            // The maps are taken before the head: its buffers may share bytes with the weights.
            if (streamedCls != null) {
                streamedCls.forward(trunk.tokens());
                clsMaps.run(backend);
                model.norm().forward(backend, outputs.features(), streamedCls.cls());
            } else {
                backend.prependRow(clsRows, model.clsToken(), trunk.tokens());
                List<ClassAttentionBlock> blocks = model.clsBlocks();
                for (int i = 0; i < blocks.size(); i++) {
                    boolean last = i == blocks.size() - 1;
                    blocks.get(i).forward(backend, clsRows, last ? clsWeights : null, clsBuffers, last);
                }
                clsMaps.run(backend);
                // The last block leaves the cls rows in its cls buffer (not in clsRows' row 0).
                model.norm().forward(backend, outputs.features(), clsBuffers.cls());
            }
            if (outputs.logits() != null) model.head().forward(backend, outputs.logits(), outputs.features());
        }
    }

    private static final Trunk.BlockHook NO_HOOK = (i, x) -> { };

    /**
     * The input shape.
     *
     * @return (B, 3, H, W)
     */
    public Shape inputShape() {
        return inputShape;
    }

    /**
     * Token grid (Hp, Wp) of this session's input size.
     *
     * @return Hp
     */
    public int gridHeight() {
        return trunk.gridH;
    }

    /**
     * The token grid's width.
     *
     * @return Wp
     */
    public int gridWidth() {
        return trunk.gridW;
    }

    /**
     * The backend that runs this session.
     *
     * @return the backend
     */
    public Backend backend() {
        return backend;
    }

    /**
     * Bytes of activation memory the plan reserved.
     *
     * @return the bytes
     */
    public long activationBytes() {
        return plan.bytes();
    }

    /**
     * Whether the trunk runs streamed (bands and chunks) rather than with full-size block buffers.
     *
     * @return true when streamed
     */
    public boolean streamed() {
        return trunk.streamed();
    }

    /**
     * What this session hands its backend to run: the planned memory and the op sequence.
     * Callers need it only to ask a backend about this session (such as
     * {@link org.xcit4j.backend.cuda.CudaBackend#kernelLaunches}).
     *
     * @return this session's forward
     */
    public Backend.Forward forward() {
        return forward;
    }

    /**
     * Same as {@link #run}.
     *
     * @param input (B, 3, H, W), normalised
     * @return the outputs, views valid until the next run
     */
    public Outputs forward(Tensor input) {
        return run(input);
    }

    /**
     * Runs the forward on {@code input} (B, 3, H, W), already normalised.
     *
     * @param input (B, 3, H, W), normalised
     * @return the outputs, views valid until the next run
     */
    public Outputs run(Tensor input) {
        forward.run(backend, model, input);
        return outputs;
    }

    /** Frees the activation memory (and the backend if the session opened it); closing twice is harmless. */
    @Override
    public void close() {
        if (forward.release(backend)) {
            arena.close();
            if (ownsBackend) backend.close();
        }
    }
}
