package org.xcit4j.backend.cpu;

import static org.xcit4j.bindings.dnnl.dnnl_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import org.xcit4j.bindings.NativeLibraries;
import org.xcit4j.tensor.Tensor;

/**
 * What CPU backends derive from a model's weights, made once and shared by every
 * {@link CpuBackend} given this object: each linear weight packed into the layout oneDNN
 * chose (per layer scale and layout), each im2col convolution weight in GEMM order. A server
 * that runs one backend per session on one model so holds each weight packed once, not once
 * per backend ({@code new CpuBackend(threads, precision, weights)}).
 *
 * <p>Thread-safe: every lookup runs under this object's lock. Lookups happen while a session
 * is prepared (its GEMM primitives are made then), not while it runs, so sessions running on
 * other threads never wait here. Entries are keyed by the identity of the model's weight
 * tensors and stay until close: use one instance per model.
 *
 * <p>Closing frees the packed weights once the last backend using them is closed (a backend
 * holds a reference from construction to close), so closing this before its backends is safe.
 */
public final class CpuWeights implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final IdentityHashMap<Tensor, ArrayList<PackedWeight>> packed = new IdentityHashMap<>();
    private final IdentityHashMap<Tensor, Tensor> im2col = new IdentityHashMap<>();
    /** The engine and stream reorders run on, made with the first packed weight. */
    private MemorySegment engine = MemorySegment.NULL, stream = MemorySegment.NULL;
    private int users;
    private boolean closing, freed;

    /** An empty cache; weights are packed as backends' sessions ask for them. */
    public CpuWeights() {
    }

    /**
     * The bytes of {@code weight} (O, K), times {@code gamma} per output row when not null,
     * in oneDNN's memory descriptor {@code layout}: packed on the first request, then the
     * same bytes for every primitive (of any backend) asking for that layout.
     */
    synchronized MemorySegment packed(Tensor weight, Tensor gamma, MemorySegment layout) {
        requireOpen();
        ArrayList<PackedWeight> list = packed.computeIfAbsent(weight, w -> new ArrayList<>(1));
        for (PackedWeight p : list) {
            if (p.matches(weight, gamma, layout)) return p.bytes;
        }
        if (engine.equals(MemorySegment.NULL)) openEngine();
        PackedWeight p = new PackedWeight(engine, stream, arena, weight, gamma, layout);
        list.add(p);
        return p.bytes;
    }

    /** {@code weight} (Cout, Cin, 3, 3) as (Cout, 3, 3, Cin): the im2col column order, made once per weight. */
    synchronized Tensor im2colWeight(Tensor weight) {
        requireOpen();
        return im2col.computeIfAbsent(weight, w -> ConvPlan.permute(arena, w, w.shape().dim(0), w.shape().dim(1)));
    }

    /**
     * Bytes of all packed weights (a weight is held once per layout, not per primitive or backend).
     *
     * @return the bytes
     */
    public synchronized long packedBytes() {
        long bytes = 0;
        for (ArrayList<PackedWeight> list : packed.values()) {
            for (PackedWeight p : list) bytes += p.size();
        }
        return bytes;
    }

    /** A backend starts using these weights (until {@link #detach}). */
    synchronized void attach() {
        requireOpen();
        users++;
    }

    synchronized void detach() {
        users--;
        if (closing && users == 0) free();
    }

    /** Frees the packed weights now, or when the last backend using them closes; closing twice is harmless. */
    @Override
    public synchronized void close() {
        closing = true;
        if (users == 0) free();
    }

    private void requireOpen() {
        if (closing) throw new IllegalStateException("the shared CPU weights have been closed");
    }

    private void openEngine() {
        NativeLibraries.load(NativeLibraries.DNNL);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment out = tmp.allocate(ValueLayout.ADDRESS);
            Dnnl.check(dnnl_engine_create(out, dnnl_cpu(), 0L), "dnnl_engine_create");
            engine = out.get(ValueLayout.ADDRESS, 0);
            Dnnl.check(dnnl_stream_create(out, engine, dnnl_stream_default_flags()), "dnnl_stream_create");
            stream = out.get(ValueLayout.ADDRESS, 0);
        }
    }

    private void free() {
        if (freed) return;
        freed = true;
        for (ArrayList<PackedWeight> list : packed.values()) list.forEach(PackedWeight::destroy);
        packed.clear();
        im2col.clear();
        if (!stream.equals(MemorySegment.NULL)) dnnl_stream_destroy(stream);
        if (!engine.equals(MemorySegment.NULL)) dnnl_engine_destroy(engine);
        arena.close();
    }
}
