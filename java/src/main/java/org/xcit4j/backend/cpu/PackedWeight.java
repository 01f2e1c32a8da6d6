package org.xcit4j.backend.cpu;

import static org.xcit4j.bindings.dnnl.dnnl_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.xcit4j.tensor.Tensor;

/**
 * A linear weight (O, K), times gamma per output row when gamma is not null, reordered once
 * into the layout and type a oneDNN matmul asked for. Primitives of different row counts
 * usually ask for the same layout (the streamed trunk's bands, the last shorter band), and
 * every backend sharing a {@link CpuWeights} asks for the same ones, so {@link CpuWeights}
 * hands them all one copy: the weights are held once, not once per primitive or backend.
 * Each primitive wraps the bytes in its own dnnl_memory_t ({@link MatMul}).
 */
final class PackedWeight {
    final Tensor weight, gamma;
    /** Owned clone of the layout; compared with dnnl_memory_desc_equal. */
    private final MemorySegment md;
    /** The packed bytes (in the CpuWeights arena). */
    final MemorySegment bytes;

    PackedWeight(MemorySegment engine, MemorySegment stream, Arena arena, Tensor weight, Tensor gamma, MemorySegment layout) {
        this.weight = weight;
        this.gamma = gamma;
        long o = weight.shape().dim(0), k = weight.shape().dim(1);
        try (Arena tmp = Arena.ofConfined()) {
            // Fold gamma in float (one rounding, as exact as scaling after the product).
            MemorySegment plain = weight.segment();
            if (gamma != null) {
                plain = tmp.allocate(weight.segment().byteSize(), 64);
                for (long r = 0; r < o; r++) {
                    float g = gamma.get(r);
                    for (long c = 0; c < k; c++) plain.setAtIndex(Tensor.F32, r * k + c, weight.get(r * k + c) * g);
                }
            }
            md = Dnnl.create(tmp, p -> dnnl_memory_desc_clone(p, layout), "dnnl_memory_desc_clone");
            MemorySegment plainMd = MatMul.md(tmp, dnnl_f32(), dnnl_ba(), k, o); // (O, K) row-major = B^T
            MemorySegment plainMem = MatMul.memory(tmp, plainMd, engine, plain);
            MemorySegment packedMem = MemorySegment.NULL;
            try {
                bytes = arena.allocate(dnnl_memory_desc_get_size(md), 64);
                packedMem = MatMul.memory(tmp, md, engine, bytes);
                reorder(tmp, engine, plainMd, md, plainMem, packedMem, stream);
                // A weight mapped from its checkpoint is now held here: give its pages back
                // (they are re-read from the file if anything reads them again), so the
                // process holds each weight once, not twice.
                if (weight.segment().isMapped()) weight.segment().unload();
            } finally {
                if (!packedMem.equals(MemorySegment.NULL)) dnnl_memory_destroy(packedMem);
                dnnl_memory_destroy(plainMem);
                dnnl_memory_desc_destroy(plainMd);
            }
        }
    }

    long size() {
        return bytes.byteSize();
    }

    /** Whether this is {@code weight} times {@code gamma} in {@code layout}. */
    boolean matches(Tensor weight, Tensor gamma, MemorySegment layout) {
        return this.weight == weight && this.gamma == gamma && dnnl_memory_desc_equal(md, layout) != 0;
    }

    void destroy() {
        dnnl_memory_desc_destroy(md);
    }

    private static void reorder(Arena tmp, MemorySegment engine, MemorySegment fromMd, MemorySegment toMd,
                                MemorySegment from, MemorySegment to, MemorySegment stream) {
        MemorySegment pd = Dnnl.create(tmp, p -> dnnl_reorder_primitive_desc_create(p, fromMd, engine, toMd, engine, MemorySegment.NULL),
                "dnnl_reorder_primitive_desc_create");
        try {
            MemorySegment prim = Dnnl.create(tmp, p -> dnnl_primitive_create(p, pd), "dnnl_primitive_create (reorder)");
            try {
                MemorySegment args = tmp.allocate(2 * Dnnl.ARG_BYTES, 8);
                Dnnl.setArg(args, 0, DNNL_ARG_FROM(), from);
                Dnnl.setArg(args, 1, DNNL_ARG_TO(), to);
                Dnnl.check(dnnl_primitive_execute(prim, stream, 2, args), "dnnl_primitive_execute (reorder)");
                Dnnl.check(dnnl_stream_wait(stream), "dnnl_stream_wait");
            } finally {
                dnnl_primitive_destroy(prim);
            }
        } finally {
            dnnl_primitive_desc_destroy(pd);
        }
    }
}
