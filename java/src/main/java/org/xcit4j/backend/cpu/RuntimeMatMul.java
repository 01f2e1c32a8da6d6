package org.xcit4j.backend.cpu;

import static org.xcit4j.bindings.dnnl.dnnl_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A oneDNN matmul whose operands all change from call to call (no packed weights): dst
 * (M, N) [+]= src (M, K) x wei (K, N) [+ bias (N)], each operand a plain matrix given by its
 * strides (src and wei float32 or bfloat16; bias and dst float32), so a transposed view costs nothing. The covariance-folded XCA uses
 * it for S = u^T u, Wqk S, Wproj M and the per-image folded Linear. Like {@link MatMul},
 * {@link #run} points the memory objects at the buffers and executes, allocating nothing.
 */
final class RuntimeMatMul {

    /** A (rows, cols) float32 operand with element strides: (cols, 1) row-major, (1, rows) transposed. */
    record Operand(long rows, long cols, long rowStride, long colStride) {
        static Operand rowMajor(long rows, long cols) {
            return new Operand(rows, cols, cols, 1);
        }

        /** The transpose of a row-major (cols, rows) matrix, seen as (rows, cols). */
        static Operand transposed(long rows, long cols) {
            return new Operand(rows, cols, 1, rows);
        }
    }

    private final MemorySegment primitive, stream, srcMem, weiMem, biasMem, dstMem, scratchMem, args;
    private final long scratchBytes;

    /** Made by {@link Dnnl.Scope#runtimeMatmul}, its argument array in the scope's arena. */
    RuntimeMatMul(Dnnl dnnl, Arena arena, Operand src, Operand wei, boolean bias, Operand dst, boolean accumulate, boolean bf16) {
        if (src.cols() != wei.rows() || src.rows() != dst.rows() || wei.cols() != dst.cols()) {
            throw new IllegalArgumentException("matmul shapes do not chain: " + src + " x " + wei + " -> " + dst);
        }
        this.stream = dnnl.stream();
        MemorySegment engine = dnnl.engine();
        try (Arena tmp = Arena.ofConfined()) {
            int in = bf16 ? dnnl_bf16() : dnnl_f32();
            MemorySegment srcMd = md(tmp, src, in), weiMd = md(tmp, wei, in), dstMd = md(tmp, dst, dnnl_f32());
            MemorySegment biasMd = bias ? md(tmp, Operand.rowMajor(1, dst.cols()), dnnl_f32()) : MemorySegment.NULL;
            MemorySegment attr = Dnnl.create(tmp, a -> dnnl_primitive_attr_create(a), "dnnl_primitive_attr_create");
            MemorySegment postOps = Dnnl.create(tmp, p -> dnnl_post_ops_create(p), "dnnl_post_ops_create");
            try {
                Dnnl.check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user()), "set_scratchpad_mode");
                if (accumulate) Dnnl.check(dnnl_post_ops_append_sum(postOps, 1f, 0, dnnl_data_type_undef()), "append_sum");
                Dnnl.check(dnnl_primitive_attr_set_post_ops(attr, postOps), "set_post_ops");
                MemorySegment pd = Dnnl.create(tmp, p -> dnnl_matmul_primitive_desc_create(p, engine, srcMd, weiMd, biasMd, dstMd, attr),
                        "dnnl_matmul_primitive_desc_create (runtime operands " + src + " x " + wei + ")");
                try {
                    MemorySegment scratchMd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md(), 0);
                    scratchBytes = Math.max(dnnl_memory_desc_get_size(scratchMd), 64);
                    srcMem = memory(tmp, srcMd, engine);
                    weiMem = memory(tmp, weiMd, engine);
                    dstMem = memory(tmp, dstMd, engine);
                    biasMem = bias ? memory(tmp, biasMd, engine) : MemorySegment.NULL;
                    scratchMem = memory(tmp, scratchMd, engine);
                    primitive = Dnnl.create(tmp, p -> dnnl_primitive_create(p, pd), "dnnl_primitive_create");
                } finally {
                    dnnl_primitive_desc_destroy(pd);
                }
            } finally {
                dnnl_post_ops_destroy(postOps);
                dnnl_primitive_attr_destroy(attr);
                for (MemorySegment md : new MemorySegment[] {srcMd, weiMd, dstMd, biasMd}) {
                    if (!md.equals(MemorySegment.NULL)) dnnl_memory_desc_destroy(md);
                }
            }
        }
        int n = bias ? 5 : 4;
        args = arena.allocate(Dnnl.ARG_BYTES * n, 8);
        Dnnl.setArg(args, 0, DNNL_ARG_SRC(), srcMem);
        Dnnl.setArg(args, 1, DNNL_ARG_WEIGHTS(), weiMem);
        Dnnl.setArg(args, 2, DNNL_ARG_DST(), dstMem);
        Dnnl.setArg(args, 3, DNNL_ARG_SCRATCHPAD(), scratchMem);
        if (bias) Dnnl.setArg(args, 4, DNNL_ARG_BIAS(), biasMem);
    }

    long scratchBytes() {
        return scratchBytes;
    }

    void useScratch(MemorySegment scratch) {
        Dnnl.check(dnnl_memory_set_data_handle(scratchMem, scratch), "dnnl_memory_set_data_handle");
    }

    /** dst [+]= src x wei [+ bias]; bias is ignored (may be NULL) when made without one. */
    void run(MemorySegment src, MemorySegment wei, MemorySegment bias, MemorySegment dst) {
        Dnnl.check(dnnl_memory_set_data_handle(srcMem, src), "dnnl_memory_set_data_handle");
        Dnnl.check(dnnl_memory_set_data_handle(weiMem, wei), "dnnl_memory_set_data_handle");
        Dnnl.check(dnnl_memory_set_data_handle(dstMem, dst), "dnnl_memory_set_data_handle");
        if (!biasMem.equals(MemorySegment.NULL)) Dnnl.check(dnnl_memory_set_data_handle(biasMem, bias), "dnnl_memory_set_data_handle");
        Dnnl.check(dnnl_primitive_execute(primitive, stream, (int) (args.byteSize() / Dnnl.ARG_BYTES), args), "dnnl_primitive_execute");
    }

    void destroy() {
        dnnl_primitive_destroy(primitive);
        for (MemorySegment m : new MemorySegment[] {srcMem, weiMem, dstMem, biasMem, scratchMem}) {
            if (!m.equals(MemorySegment.NULL)) dnnl_memory_destroy(m);
        }
    }

    private static MemorySegment md(Arena tmp, Operand o, int dataType) {
        MemorySegment dims = tmp.allocateFrom(ValueLayout.JAVA_LONG, o.rows(), o.cols());
        MemorySegment strides = tmp.allocateFrom(ValueLayout.JAVA_LONG, o.rowStride(), o.colStride());
        return Dnnl.create(tmp, p -> dnnl_memory_desc_create_with_strides(p, 2, dims, dataType, strides), "dnnl_memory_desc_create_with_strides");
    }

    private static MemorySegment memory(Arena tmp, MemorySegment md, MemorySegment engine) {
        return Dnnl.create(tmp, p -> dnnl_memory_create(p, md, engine, MemorySegment.NULL), "dnnl_memory_create");
    }
}
