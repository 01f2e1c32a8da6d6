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
 * CPU engine and in-order stream, the packed weights and the one scratchpad that all its
 * primitives share (they run one at a time). Creating a {@link MatMul} is the only thing
 * that allocates; running one does not. Not thread-safe, like the backend that owns it.
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

    private final Arena arena = Arena.ofShared();
    private final MemorySegment engine;
    private final MemorySegment stream;
    private final List<MatMul> matmuls = new ArrayList<>();
    private final IdentityHashMap<Tensor, ArrayList<MatMul>> byWeight = new IdentityHashMap<>();
    private final List<RuntimeMatMul> runtimeMatmuls = new ArrayList<>();
    private final IdentityHashMap<Tensor, ArrayList<PackedWeight>> packed = new IdentityHashMap<>();
    private MemorySegment scratch = MemorySegment.NULL;
    private boolean closed;

    Dnnl() {
        NativeLibraries.load(NativeLibraries.DNNL);
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

    Arena arena() {
        return arena;
    }

    /**
     * The primitive for dst (m, O) [+]= epilogue(src (m, K) * W^T + b) with weight (O, K) and
     * bias (O), the weight (times gamma per output row, when gamma is not null, and the bias
     * likewise) packed into oneDNN's preferred layout in {@code bf16 ? bf16 : f32}: made on
     * the first request, then found again by the weight's identity without allocating.
     * Primitives of other row counts share the packed copy ({@link #packedWeight}).
     * Packed weights stay until close, also if the model that owned the weight is closed.
     */
    MatMul matmul(long m, Tensor weight, Tensor bias, Tensor gamma, Epilogue epilogue, boolean bf16, boolean bf16Out) {
        if (closed) throw new IllegalStateException("the oneDNN context has been closed");
        ArrayList<MatMul> list = byWeight.get(weight);
        if (list != null) {
            for (int i = 0; i < list.size(); i++) {
                MatMul mm = list.get(i);
                if (mm.matches(m, bias, gamma, epilogue, bf16, bf16Out)) return mm;
            }
        } else {
            list = new ArrayList<>(2);
            byWeight.put(weight, list);
        }
        MatMul mm = new MatMul(this, m, weight, bias, gamma, epilogue, bf16, bf16Out);
        list.add(mm);
        matmuls.add(mm);
        shareScratch(mm.scratchBytes());
        mm.useScratch(scratch);
        return mm;
    }

    /**
     * The dnnl_memory_t of {@code weight} (times {@code gamma}) in {@code layout}: packed on
     * the first request, then shared by every primitive asking for the same layout.
     */
    MemorySegment packedWeight(Tensor weight, Tensor gamma, MemorySegment layout) {
        ArrayList<PackedWeight> list = packed.computeIfAbsent(weight, w -> new ArrayList<>(1));
        for (PackedWeight p : list) {
            if (p.matches(weight, gamma, layout)) return p.memory;
        }
        PackedWeight p = new PackedWeight(this, weight, gamma, layout);
        list.add(p);
        return p.memory;
    }

    /** Bytes of all packed weights (tests: a weight is held once per layout, not per primitive). */
    long packedWeightBytes() {
        long bytes = 0;
        for (ArrayList<PackedWeight> list : packed.values()) {
            for (PackedWeight p : list) bytes += p.bytes();
        }
        return bytes;
    }

    /** A matmul with every operand given at run time (plain float32, any strides). */
    RuntimeMatMul runtimeMatmul(RuntimeMatMul.Operand src, RuntimeMatMul.Operand wei, boolean bias,
                                RuntimeMatMul.Operand dst, boolean accumulate, boolean bf16) {
        if (closed) throw new IllegalStateException("the oneDNN context has been closed");
        RuntimeMatMul mm = new RuntimeMatMul(this, src, wei, bias, dst, accumulate, bf16);
        runtimeMatmuls.add(mm);
        shareScratch(mm.scratchBytes());
        mm.useScratch(scratch);
        return mm;
    }

    /** Primitives made so far (tests: a prepared session's runs make none). */
    int primitives() {
        return matmuls.size() + runtimeMatmuls.size();
    }

    /** Grows the one scratchpad (rarely: only while primitives are being created) and re-points all. */
    private void shareScratch(long bytes) {
        if (bytes <= scratch.byteSize()) return;
        scratch = arena.allocate(bytes, 64);
        for (MatMul other : matmuls) other.useScratch(scratch);
        for (RuntimeMatMul other : runtimeMatmuls) other.useScratch(scratch);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (MatMul mm : matmuls) mm.destroy();
        for (RuntimeMatMul mm : runtimeMatmuls) mm.destroy();
        for (ArrayList<PackedWeight> list : packed.values()) list.forEach(PackedWeight::destroy);
        matmuls.clear();
        packed.clear();
        byWeight.clear();
        runtimeMatmuls.clear();
        dnnl_stream_destroy(stream);
        dnnl_engine_destroy(engine);
        arena.close();
    }
}
