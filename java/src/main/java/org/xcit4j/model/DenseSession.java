package org.xcit4j.model;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.MemoryPlan;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Dense inference (spec section 6) for one input shape (B, 3, H, W): the raw outputs of the
 * blocks at the out indices through the four FPN ops, as channel-first (B, C, h, w) maps at
 * strides 4, 8, 16 and 32. No cls token, class attention, final norm or head.
 *
 * <p>Levels without weights in the checkpoint (fpn1 / fpn2 of a classification checkpoint)
 * are left out, and {@link #missing()} says why; the parameter-free levels (identity and
 * max-pooling) are always produced.
 *
 * <p>Memory: identity and pooled levels are written while the blocks run, straight from the
 * residual stream. Upsampling levels copy their block's output and run after the blocks,
 * so their large channel-last scratch reuses the block buffers' bytes.
 *
 * <p>Like {@link Session}, it hands its backend a {@link Backend.Forward}: host backends
 * call it, CudaBackend uploads the plan and records it as a CUDA graph.
 */
public final class DenseSession implements AutoCloseable {

    /**
     * The four maps, channel-first; a level is null when the checkpoint lacks its weights.
     *
     * @param stride4 (B, C, H/4, W/4), or null
     * @param stride8 (B, C, H/8, W/8), or null
     * @param stride16 (B, C, H/16, W/16), or null
     * @param stride32 (B, C, H/32, W/32), or null
     */
    public record Outputs(Tensor stride4, Tensor stride8, Tensor stride16, Tensor stride32) {
        /**
         * The present maps by name ("stride4", ...), in stride order.
         *
         * @return the maps that are not null
         */
        public Map<String, Tensor> present() {
            Map<String, Tensor> m = new LinkedHashMap<>();
            Tensor[] all = {stride4, stride8, stride16, stride32};
            for (int k = 0; k < all.length; k++) if (all[k] != null) m.put("stride" + Fpn.stride(k), all[k]);
            return m;
        }
    }

    private final Xcit model;
    private final Backend backend;
    private final Shape inputShape;
    private final Trunk trunk;
    private final int[] outIndices;
    private final Arena arena = Arena.ofShared();
    private final MemoryPlan plan;
    private final Tensor[] out = new Tensor[Fpn.LEVELS];       // (B, C, h, w) per present level
    private final Tensor[] lastOut = new Tensor[Fpn.LEVELS];   // (B, h, w, C) channel-last result, shared scratch
    private final Tensor[] capture = new Tensor[Fpn.LEVELS];   // (B, N, C) for upsampling levels
    private final Tensor mid;                                   // (B, 2Hp, 2Wp, C) for the p16 stride-4 chain
    private final List<String> missing = new ArrayList<>();
    private final Outputs outputs;
    private final PlannedForward forward;

    DenseSession(Xcit model, Backend backend, int batch, int height, int width, DenseOptions dense, SessionOptions options) {
        XcitConfig cfg = model.config();
        Fpn fpn = model.fpn();
        this.model = model;
        this.backend = backend;
        this.inputShape = Shape.of(batch, 3, height, width);
        this.outIndices = dense.resolve(cfg.depth());
        this.trunk = Trunk.create(model, backend, batch, height, width, options);
        if (trunk.streamed() && backend instanceof org.xcit4j.backend.cuda.CudaBackend) {
            throw new IllegalArgumentException("streamed execution runs on host backends (java, cpu), not on cuda; "
                    + "use the full plan (SessionOptions FULL) on the GPU");
        }
        int b = batch, c = cfg.embedDim(), gh = trunk.gridH, gw = trunk.gridW;

        // Step blocks + 1 + k runs upsampling level k, so the levels' scratch can share bytes.
        int blocks = trunk.blocksStep(), lastStep = blocks + Fpn.LEVELS;
        MemoryPlan.Builder p = MemoryPlan.builder();
        this.forward = new PlannedForward();
        forward.declare(p, backend);
        trunk.declare(p, lastStep);
        for (int k = 0; k < Fpn.LEVELS; k++) {
            String name = "stride" + Fpn.stride(k);
            if (!fpn.available(k)) {
                missing.add(name + " needs " + fpn.missing(k) + " weights, which the checkpoint does not have");
                continue;
            }
            Shape last = fpn.outShape(k, b, gh, gw, c);
            if (last.numel() == 0) {
                throw new IllegalArgumentException("input " + height + "x" + width + " gives a " + gh + "x" + gw + " token grid, too small for "
                        + name + " (" + fpn.op(k) + "); use a larger input");
            }
            p.add(name, Shape.of(b, c, last.dim(1), last.dim(2)), blocks, lastStep);
            Fpn.Op op = fpn.op(k);
            if (op.upsamples()) {
                p.add(name + ".capture", trunk.tokensShape(), blocks, blocks + 1 + k);
                p.add(name + ".last", last, blocks + 1 + k, blocks + 1 + k);
            } else if (op != Fpn.Op.IDENTITY) {
                p.add(name + ".last", last, blocks, blocks);
            }
        }
        boolean needMid = fpn.available(0) && fpn.op(0) == Fpn.Op.UP4;
        if (needMid) p.add("mid", Shape.of(b, 2L * gh, 2L * gw, c), blocks + 1, blocks + 1);
        try {
            MemoryBudget.require(p.bytes(), "the activation plan for input " + inputShape);
            this.plan = p.allocate(arena);
            forward.bind(plan, backend);
            trunk.bind(plan);
            for (int k = 0; k < Fpn.LEVELS; k++) {
                if (!fpn.available(k)) continue;
                String name = "stride" + Fpn.stride(k);
                out[k] = plan.tensor(name);
                if (fpn.op(k).upsamples()) capture[k] = plan.tensor(name + ".capture");
                if (fpn.op(k) != Fpn.Op.IDENTITY) lastOut[k] = plan.tensor(name + ".last");
            }
            this.mid = needMid ? plan.tensor("mid") : null;
            this.outputs = new Outputs(out[0], out[1], out[2], out[3]);
            backend.prepare(forward);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** The planned memory and op sequence, as {@link Session}'s: what the backend prepares and runs. */
    private final class PlannedForward extends TrunkForward {
        PlannedForward() {
            super(trunk, inputShape);
        }

        @Override
        public List<Tensor> outputs() {
            return List.copyOf(outputs.present().values());
        }

        @Override
        public void forward(Backend b, Tensor input) {
            Fpn fpn = model.fpn();
            long batch = inputShape.dim(0), gh = trunk.gridH, gw = trunk.gridW, c = model.config().embedDim();
            trunk.run(input, (index, tokens) -> {
                for (int k = 0; k < Fpn.LEVELS; k++) {
                    if (out[k] == null || outIndices[k] != index) continue;
                    Tensor grid = tokens.reshape(batch, gh, gw, c);
                    switch (fpn.op(k)) {
                        case IDENTITY -> DataMoves.toChannelFirst(backend, out[k], grid);
                        case UP4, UP2 -> DataMoves.copy(backend, capture[k], tokens);
                        case POOL2, POOL4 -> {
                            fpn.forward(backend, k, lastOut[k], grid, null);
                            DataMoves.toChannelFirst(backend, out[k], lastOut[k]);
                        }
                    }
                }
            });
            for (int k = 0; k < Fpn.LEVELS; k++) {
                if (capture[k] == null) continue;
                fpn.forward(backend, k, lastOut[k], capture[k].reshape(batch, gh, gw, c), mid);
                DataMoves.toChannelFirst(backend, out[k], lastOut[k]);
            }
        }
    }

    /**
     * The block whose raw output feeds each level, strides 4 to 32.
     *
     * @return four block indices
     */
    public int[] outIndices() {
        return outIndices.clone();
    }

    /**
     * Why levels are absent (one line each); empty when all four are produced.
     *
     * @return the reasons, possibly empty
     */
    public List<String> missing() {
        return List.copyOf(missing);
    }

    /**
     * The input shape.
     *
     * @return (B, 3, H, W)
     */
    public Shape inputShape() {
        return inputShape;
    }

    /**
     * The token grid's height.
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
     * Bytes of activation memory the plan reserved.
     *
     * @return the bytes
     */
    public long activationBytes() {
        return plan.bytes();
    }

    /**
     * Whether the trunk runs streamed.
     *
     * @return true when streamed
     */
    public boolean streamed() {
        return trunk.streamed();
    }

    /**
     * Runs on {@code input} (B, 3, H, W), already normalised; the maps are views valid until the next run.
     *
     * @param input (B, 3, H, W), normalised
     * @return the maps
     */
    public Outputs run(Tensor input) {
        forward.run(backend, model, input);
        return outputs;
    }

    @Override
    public void close() {
        if (forward.release(backend)) arena.close();
    }

    @Override
    public String toString() {
        return "DenseSession" + inputShape + " out indices " + Arrays.toString(outIndices);
    }
}
