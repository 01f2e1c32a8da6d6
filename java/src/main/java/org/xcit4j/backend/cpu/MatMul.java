package org.xcit4j.backend.cpu;

import static org.xcit4j.bindings.dnnl.dnnl_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.xcit4j.tensor.Tensor;

/**
 * One oneDNN matmul primitive for a fixed (m, K, O), its bias and the argument array it
 * executes with; its weights are packed by {@link CpuWeights}, once per layout, and shared
 * with the primitives of other row counts and other backends; src and weights in f32 or
 * bf16, dst f32 (or bf16 when it only feeds another bf16 GEMM). {@link #run} only points the
 * src and dst memory objects at the caller's buffers and executes: three downcalls, no
 * allocation. Its sessions count as {@link #users}: the last one to be released destroys it.
 */
final class MatMul {

    final long m;
    final Tensor weight, bias, gamma;
    final Dnnl.Epilogue epilogue;
    final boolean bf16, bf16Out;
    private final MemorySegment primitive, srcMem, dstMem, scratchMem, args, stream;
    private final MemorySegment[] owned; // memory objects to destroy
    private final Arena arena = Arena.ofShared(); // the argument array and the layer-scaled bias
    /** Sessions ({@link Dnnl.Scope}s) using this primitive. */
    int users;
    private final long scratchBytes;
    private final String impl;

    MatMul(Dnnl dnnl, long m, Tensor weight, Tensor bias, Tensor gamma, Dnnl.Epilogue epilogue, boolean bf16, boolean bf16Out) {
        this.m = m;
        this.weight = weight;
        this.bias = bias;
        this.gamma = gamma;
        this.epilogue = epilogue;
        this.bf16 = bf16;
        this.bf16Out = bf16Out;
        this.stream = dnnl.stream();
        long o = weight.shape().dim(0), k = weight.shape().dim(1);
        MemorySegment engine = dnnl.engine();
        int dt = bf16 ? dnnl_bf16() : dnnl_f32();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment srcMd = md(tmp, dt, dnnl_ab(), m, k);
            MemorySegment weiAny = md(tmp, dt, dnnl_format_tag_any(), k, o);
            MemorySegment biasMd = md(tmp, dnnl_f32(), dnnl_ab(), 1, o);
            MemorySegment dstMd = md(tmp, bf16Out ? dnnl_bf16() : dnnl_f32(), dnnl_ab(), m, o);

            MemorySegment attr = Dnnl.create(tmp, a -> dnnl_primitive_attr_create(a), "dnnl_primitive_attr_create");
            MemorySegment postOps = Dnnl.create(tmp, p -> dnnl_post_ops_create(p), "dnnl_post_ops_create");
            try {
                Dnnl.check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user()), "set_scratchpad_mode");
                if (epilogue == Dnnl.Epilogue.GELU) {
                    Dnnl.check(dnnl_post_ops_append_eltwise(postOps, dnnl_eltwise_gelu_erf(), 0f, 0f), "append_eltwise");
                } else if (epilogue == Dnnl.Epilogue.ACCUMULATE) {
                    Dnnl.check(dnnl_post_ops_append_sum(postOps, 1f, 0, dnnl_data_type_undef()), "append_sum");
                }
                Dnnl.check(dnnl_primitive_attr_set_post_ops(attr, postOps), "set_post_ops");
                MemorySegment pd = Dnnl.create(tmp, p -> dnnl_matmul_primitive_desc_create(p, engine, srcMd, weiAny,
                                bias == null ? MemorySegment.NULL : biasMd, dstMd, attr),
                        "dnnl_matmul_primitive_desc_create (m " + m + ", K " + k + ", O " + o + ")");
                try {
                    MemorySegment implStr = tmp.allocate(ValueLayout.ADDRESS);
                    impl = dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str(), 0, implStr) == dnnl_success()
                            ? implStr.get(C_POINTER, 0).getString(0) : "?";
                    MemorySegment weiMd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md(), 0);
                    MemorySegment scratchMd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md(), 0);
                    scratchBytes = Math.max(dnnl_memory_desc_get_size(scratchMd), 64);

                    MemorySegment biasData = bias == null ? MemorySegment.NULL : bias.segment();
                    if (gamma != null && bias != null) {
                        biasData = arena.allocate(o * Float.BYTES, 64);
                        for (long r = 0; r < o; r++) biasData.setAtIndex(Tensor.F32, r, bias.get(r) * gamma.get(r));
                    }
                    MemorySegment packedMem = memory(tmp, weiMd, engine, dnnl.weights().packed(weight, gamma, weiMd));
                    MemorySegment biasMem = bias == null ? MemorySegment.NULL : memory(tmp, biasMd, engine, biasData);
                    srcMem = memory(tmp, srcMd, engine, MemorySegment.NULL);
                    dstMem = memory(tmp, dstMd, engine, MemorySegment.NULL);
                    scratchMem = memory(tmp, scratchMd, engine, MemorySegment.NULL);
                    primitive = Dnnl.create(tmp, p -> dnnl_primitive_create(p, pd), "dnnl_primitive_create");
                    owned = bias == null ? new MemorySegment[] {packedMem, srcMem, dstMem, scratchMem}
                            : new MemorySegment[] {packedMem, biasMem, srcMem, dstMem, scratchMem};

                    int n = bias == null ? 4 : 5;
                    args = arena.allocate(Dnnl.ARG_BYTES * n, 8);
                    Dnnl.setArg(args, 0, DNNL_ARG_SRC(), srcMem);
                    Dnnl.setArg(args, 1, DNNL_ARG_WEIGHTS(), packedMem);
                    Dnnl.setArg(args, 2, DNNL_ARG_DST(), dstMem);
                    Dnnl.setArg(args, 3, DNNL_ARG_SCRATCHPAD(), scratchMem);
                    if (bias != null) Dnnl.setArg(args, 4, DNNL_ARG_BIAS(), biasMem);
                } finally {
                    dnnl_primitive_desc_destroy(pd);
                }
            } finally {
                dnnl_post_ops_destroy(postOps);
                dnnl_primitive_attr_destroy(attr);
                for (MemorySegment md : new MemorySegment[] {srcMd, weiAny, biasMd, dstMd}) dnnl_memory_desc_destroy(md);
            }
        }
    }

    boolean matches(long m, Tensor bias, Tensor gamma, Dnnl.Epilogue epilogue, boolean bf16, boolean bf16Out) {
        return this.m == m && this.bias == bias && this.gamma == gamma && this.epilogue == epilogue && this.bf16 == bf16
                && this.bf16Out == bf16Out;
    }

    long scratchBytes() {
        return scratchBytes;
    }

    /** The implementation oneDNN chose, e.g. "brg_matmul:avx512_core". */
    String impl() {
        return impl;
    }

    void useScratch(MemorySegment scratch) {
        Dnnl.check(dnnl_memory_set_data_handle(scratchMem, scratch), "dnnl_memory_set_data_handle");
    }

    /** dst (m, O) [+]= src (m, K) * W^T + b, with the epilogue this primitive was made with. */
    void run(MemorySegment src, MemorySegment dst) {
        Dnnl.check(dnnl_memory_set_data_handle(srcMem, src), "dnnl_memory_set_data_handle");
        Dnnl.check(dnnl_memory_set_data_handle(dstMem, dst), "dnnl_memory_set_data_handle");
        Dnnl.check(dnnl_primitive_execute(primitive, stream, (int) (args.byteSize() / Dnnl.ARG_BYTES), args), "dnnl_primitive_execute");
    }

    void destroy() {
        dnnl_primitive_destroy(primitive);
        for (MemorySegment mem : owned) dnnl_memory_destroy(mem);
        arena.close();
    }

    static MemorySegment md(Arena tmp, int dt, int tag, long rows, long cols) {
        MemorySegment dims = tmp.allocateFrom(ValueLayout.JAVA_LONG, rows, cols);
        return Dnnl.create(tmp, p -> dnnl_memory_desc_create_with_tag(p, 2, dims, dt, tag), "dnnl_memory_desc_create_with_tag");
    }

    static MemorySegment memory(Arena tmp, MemorySegment md, MemorySegment engine, MemorySegment handle) {
        return Dnnl.create(tmp, p -> dnnl_memory_create(p, md, engine, handle), "dnnl_memory_create");
    }
}
