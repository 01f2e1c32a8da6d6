package org.xcit4j.backend.cpu;

import static org.xcit4j.bindings.dnnl.dnnl_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import org.xcit4j.backend.NativeException;
import org.xcit4j.bindings.NativeLibraries;
import org.xcit4j.tensor.Tensor;

/**
 * oneDNN (libdnnl.so.3 through the dnnl_h bindings) for CpuBackend's matrix products: one
 * CPU engine and in-order stream, and the one scratchpad that all its primitives share (they
 * run one at a time). Packed weights come from a {@link CpuWeights} (the backend's own, or
 * one shared by several backends). Primitives belong to the {@link Scope} of the session
 * that made or used them: GEMM primitives ({@link MatMul}, one per weight and row count) are
 * shared by the scopes that ask for them and destroyed with the last one; runtime-operand
 * primitives ({@link RuntimeMatMul}) belong to one scope. So a session's release frees what
 * it made, and a backend serving sessions in turn holds only what its open sessions use.
 * Creating a primitive is the only thing that allocates; running one does not. Not
 * thread-safe, like the backend that owns it.
 */
final class Dnnl implements AutoCloseable {
    /** Bytes of one dnnl_exec_arg_t: int arg; (padding); dnnl_memory_t memory. */
    static final long ARG_BYTES = 16;

    /** A oneDNN constructor that writes its handle through {@code out}. */
    interface Creator {
        int create(MemorySegment out);
    }

    /** Calls {@code creator} with a pointer slot from {@code tmp}, checks the status, returns the handle. */
    static MemorySegment create(Arena tmp, Creator creator, String what) {
        MemorySegment out = tmp.allocate(ValueLayout.ADDRESS);
        check(creator.create(out), what);
        return out.get(ValueLayout.ADDRESS, 0);
    }

    /** Fills entry {@code i} of a dnnl_exec_arg_t array. */
    static void setArg(MemorySegment args, int i, int arg, MemorySegment memory) {
        args.set(ValueLayout.JAVA_INT, i * ARG_BYTES, arg);
        args.set(ValueLayout.ADDRESS, i * ARG_BYTES + 8, memory);
    }

    /** What a matmul does after the product: nothing, exact GELU, or add into dst. */
    enum Epilogue { NONE, GELU, ACCUMULATE }

    private final CpuWeights weights;
    private final MemorySegment engine;
    private final MemorySegment stream;
    private final List<MatMul> matmuls = new ArrayList<>();
    private final IdentityHashMap<Tensor, ArrayList<MatMul>> byWeight = new IdentityHashMap<>();
    private final List<RuntimeMatMul> runtimeMatmuls = new ArrayList<>();
    private final List<Scope> scopes = new ArrayList<>();
    private final GrowingBuffer scratch = new GrowingBuffer();
    private boolean closed;

    /** With packed weights from {@code weights}, which the caller keeps owning. */
    Dnnl(CpuWeights weights) {
        NativeLibraries.load(NativeLibraries.DNNL);
        this.weights = weights;
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment out = tmp.allocate(ValueLayout.ADDRESS);
            check(dnnl_engine_create(out, dnnl_cpu(), 0L), "dnnl_engine_create");
            engine = out.get(ValueLayout.ADDRESS, 0);
            check(dnnl_stream_create(out, engine, dnnl_stream_default_flags()), "dnnl_stream_create");
            stream = out.get(ValueLayout.ADDRESS, 0);
        }
    }

    static void check(int status, String what) {
        if (status != dnnl_success()) {
            throw new NativeException(status, "oneDNN " + what + " failed with dnnl_status_t " + status
                    + (status == 3 ? " (unimplemented for these shapes/types on this CPU)" : ""));
        }
    }

    MemorySegment engine() {
        return engine;
    }

    MemorySegment stream() {
        return stream;
    }

    CpuWeights weights() {
        return weights;
    }

    /** A new scope: what one session makes and uses. */
    Scope scope() {
        requireOpen();
        Scope s = new Scope();
        scopes.add(s);
        return s;
    }

    /** Primitives alive now (tests: a prepared session's runs make none; released sessions leave none). */
    int primitives() {
        return matmuls.size() + runtimeMatmuls.size();
    }

    private void requireOpen() {
        if (closed) throw new IllegalStateException("the oneDNN context has been closed");
    }

    /** Grows the one scratchpad (rarely: only while primitives are being created) and re-points all. */
    private void shareScratch(long bytes) {
        if (!scratch.growsFor(bytes)) return;
        MemorySegment grown = scratch.atLeast(bytes);
        for (MatMul other : matmuls) other.useScratch(grown);
        for (RuntimeMatMul other : runtimeMatmuls) other.useScratch(grown);
    }

    /**
     * What one session made and uses: its runtime-operand primitives and its buffers (in
     * {@link #arena()}), and a reference on each shared GEMM primitive it asked for. Closing
     * it destroys its own primitives and buffers and the shared ones nobody else uses.
     */
    final class Scope implements AutoCloseable {
        private final Arena arena = Arena.ofShared();
        private final IdentityHashMap<MatMul, Boolean> used = new IdentityHashMap<>();
        private final List<RuntimeMatMul> owned = new ArrayList<>();
        private boolean scopeClosed;

        /** Memory that lives as long as this scope (the session's covariance buffers and slices). */
        Arena arena() {
            return arena;
        }

        /**
         * The primitive for dst (m, O) [+]= epilogue(src (m, K) * W^T + b) with weight (O, K) and
         * bias (O), the weight (times gamma per output row, when gamma is not null, and the bias
         * likewise) packed into oneDNN's preferred layout in {@code bf16 ? bf16 : f32}: made on
         * the first request of any scope, then found again by the weight's identity without
         * allocating. Primitives of other row counts share the packed copy ({@link CpuWeights}).
         */
        MatMul matmul(long m, Tensor weight, Tensor bias, Tensor gamma, Epilogue epilogue, boolean bf16, boolean bf16Out) {
            requireOpen();
            MatMul mm = find(m, weight, bias, gamma, epilogue, bf16, bf16Out);
            if (mm == null) {
                mm = new MatMul(Dnnl.this, m, weight, bias, gamma, epilogue, bf16, bf16Out);
                byWeight.computeIfAbsent(weight, w -> new ArrayList<>(2)).add(mm);
                matmuls.add(mm);
                shareScratch(mm.scratchBytes());
                mm.useScratch(scratch.atLeast(0));
            }
            if (used.put(mm, Boolean.TRUE) == null) mm.users++;
            return mm;
        }

        /** A matmul with every operand given at run time (plain float32 or bf16, any strides), owned by this scope. */
        RuntimeMatMul runtimeMatmul(RuntimeMatMul.Operand src, RuntimeMatMul.Operand wei, boolean bias,
                                    RuntimeMatMul.Operand dst, boolean accumulate, boolean bf16) {
            requireOpen();
            RuntimeMatMul mm = new RuntimeMatMul(Dnnl.this, arena, src, wei, bias, dst, accumulate, bf16);
            owned.add(mm);
            runtimeMatmuls.add(mm);
            shareScratch(mm.scratchBytes());
            mm.useScratch(scratch.atLeast(0));
            return mm;
        }

        @Override
        public void close() {
            if (scopeClosed) return;
            scopeClosed = true;
            scopes.remove(this);
            for (RuntimeMatMul mm : owned) {
                runtimeMatmuls.remove(mm);
                mm.destroy();
            }
            owned.clear();
            for (MatMul mm : used.keySet()) {
                if (--mm.users > 0) continue;
                matmuls.remove(mm);
                ArrayList<MatMul> same = byWeight.get(mm.weight);
                same.remove(mm);
                if (same.isEmpty()) byWeight.remove(mm.weight);
                mm.destroy();
            }
            used.clear();
            arena.close();
        }
    }

    private MatMul find(long m, Tensor weight, Tensor bias, Tensor gamma, Epilogue epilogue, boolean bf16, boolean bf16Out) {
        ArrayList<MatMul> list = byWeight.get(weight);
        if (list == null) return null;
        for (int i = 0; i < list.size(); i++) {
            MatMul mm = list.get(i);
            if (mm.matches(m, bias, gamma, epilogue, bf16, bf16Out)) return mm;
        }
        return null;
    }

    @Override
    public void close() {
        if (closed) return;
        for (Scope s : List.copyOf(scopes)) s.close();
        closed = true;
        for (MatMul mm : matmuls) mm.destroy(); // none left: every one belongs to a scope
        matmuls.clear();
        byWeight.clear();
        dnnl_stream_destroy(stream);
        dnnl_engine_destroy(engine);
        scratch.close();
    }
}
