package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.MemoryPlan;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The part every output needs: patch embedding, Fourier positions and the XCA blocks, from
 * the input (B, 3, H, W) to the residual stream (B, N, C). Sessions add their own stages
 * after it. Two plans: {@link FullTrunk} (every block activation for all tokens) and
 * {@link StreamedTrunk} (bands and chunks; the residual stream is the only full-size buffer).
 *
 * <p>Life cycle: {@link #declare} the buffers into the session's memory plan, allocate, then
 * {@link #bind} to the allocated plan; the trunk occupies plan steps [0, {@link #blocksStep()}].
 */
abstract sealed class Trunk permits FullTrunk, StreamedTrunk {
    /** Called after each XCA block with the residual stream (B, N, C), e.g. to capture it. */
    interface BlockHook {
        void afterBlock(int index, Tensor tokens);
    }

    final Xcit model;
    final Backend backend;
    final int batch, height, width, gridH, gridW, channels;
    Tensor tokens;

    Trunk(Xcit model, Backend backend, int batch, int height, int width) {
        if (batch < 1 || height < 1 || width < 1) {
            throw new IllegalArgumentException("input shape (" + batch + ", 3, " + height + ", " + width + ") must be positive");
        }
        XcitConfig cfg = model.config();
        this.model = model;
        this.backend = backend;
        this.batch = batch;
        this.height = height;
        this.width = width;
        this.gridH = cfg.gridSide(height);
        this.gridW = cfg.gridSide(width);
        this.channels = cfg.embedDim();
    }

    /** FULL or STREAMED per {@code options}; AUTO compares the full trunk's plan with the budget. */
    static Trunk create(Xcit model, Backend backend, int batch, int height, int width, SessionOptions options) {
        FullTrunk full = new FullTrunk(model, backend, batch, height, width);
        MemoryPlan.Builder probe = MemoryPlan.builder();
        full.declare(probe, full.blocksStep());
        if (!options.streams(probe.bytes())) return full;
        return new StreamedTrunk(model, backend, batch, height, width, options.bandRowsFor(full.gridH, full.gridW),
                options.patchBandRowsFor(full.gridH, full.gridW));
    }

    /** Declares the trunk's buffers; the residual stream "tokens" (B, N, C) lives until {@code lastStep}. */
    abstract void declare(MemoryPlan.Builder plan, int lastStep);

    /** Takes the trunk's buffers from the allocated plan and computes what depends only on the shape. */
    abstract void bind(MemoryPlan plan);

    /** Once per session, after {@link #bind}, on the backend (the positional projection where it is fixed). */
    abstract void setup();

    /** Planned tensors filled on the host at {@link #bind} that {@link #setup} reads (device backends upload them). */
    abstract java.util.List<Tensor> hostInitialised();

    /** The plan step of the XCA blocks (the trunk's last). */
    abstract int blocksStep();

    /** Runs the trunk on {@code input} (B, 3, H, W); the result is {@link #tokens()}. */
    abstract void run(Tensor input, BlockHook hook);

    abstract boolean streamed();

    Tensor tokens() {
        return tokens;
    }

    Shape tokensShape() {
        return Shape.of(batch, (long) gridH * gridW, channels);
    }
}
