package org.xcit4j.model;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.MemoryPlan;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The part of a {@link Backend.Forward} that {@link Session} and {@link DenseSession} share:
 * the plan's block, the input (an input slot only for a backend that stages its input), the
 * trunk's host-initialised tensors and one-time setup, and the checks of a run and of closing.
 * They add the outputs and the pass.
 *
 * <p>A session is single-threaded: every run reuses the same activation memory (and the
 * backend's per-session state), so two threads in one session would overwrite each other's
 * intermediates. A run or close while another thread is inside a run of the same session is
 * refused with an {@link IllegalStateException} (one compare-and-set per run) instead of
 * giving wrong numbers or a crash deep inside.
 */
abstract class TrunkForward implements Backend.Forward {
    private static final String INPUT = "input";
    private final Trunk trunk;
    private final Shape inputShape;
    private MemoryPlan plan;
    private Tensor inputSlot;
    /** The thread inside {@link #run} or {@link #release}, or null. */
    private final AtomicReference<Thread> busy = new AtomicReference<>();
    private volatile boolean closed;

    TrunkForward(Trunk trunk, Shape inputShape) {
        this.trunk = trunk;
        this.inputShape = inputShape;
    }

    /** Declares the input slot, at step 0, if {@code backend} stages its input. */
    void declare(MemoryPlan.Builder p, Backend backend) {
        if (backend.stagesInput()) p.add(INPUT, inputShape, 0, 0);
    }

    /** Once the plan is allocated. */
    void bind(MemoryPlan plan, Backend backend) {
        this.plan = plan;
        this.inputSlot = backend.stagesInput() ? plan.tensor(INPUT) : null;
    }

    /** One forward on {@code input} after the checks every session makes. */
    void run(Backend backend, Xcit model, Tensor input) {
        enter("run");
        try {
            if (closed) throw new IllegalStateException("the session has been closed");
            model.ensureOpen();
            if (!input.shape().equals(inputShape)) {
                throw new IllegalArgumentException("input shape " + input.shape() + " does not match the session's " + inputShape);
            }
            backend.run(this, input);
        } finally {
            busy.set(null);
        }
    }

    /**
     * Lets the backend free what it prepared; false if that already happened (closing twice).
     * Refused while another thread runs the session: its memory is in use.
     */
    boolean release(Backend backend) {
        enter("close");
        try {
            if (closed) return false;
            closed = true;
            backend.release(this);
            return true;
        } finally {
            busy.set(null);
        }
    }

    private void enter(String what) {
        Thread other = busy.compareAndExchange(null, Thread.currentThread());
        if (other != null) {
            throw new IllegalStateException("cannot " + what + " the session for input " + inputShape + ": thread '"
                    + other.getName() + "' is running it. A session is single-threaded (every run reuses its activation "
                    + "memory); give each thread its own session, or share one org.xcit4j.serve.Predictor between threads");
        }
    }

    @Override
    public MemorySegment activations() {
        return plan.block();
    }

    @Override
    public Shape inputShape() {
        return inputShape;
    }

    @Override
    public Tensor inputSlot() {
        return inputSlot;
    }

    @Override
    public List<Tensor> hostInitialised() {
        return trunk.hostInitialised();
    }

    @Override
    public void setup(Backend backend) {
        trunk.setup();
    }
}
