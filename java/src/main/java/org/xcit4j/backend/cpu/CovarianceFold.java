package org.xcit4j.backend.cpu;

import static org.xcit4j.bindings.xcit.xcit_h.*;

import java.lang.foreign.MemorySegment;
import org.xcit4j.backend.NativeContext;
import org.xcit4j.backend.cpu.RuntimeMatMul.Operand;

/**
 * The O(C^3) middle of the covariance-folded attention (spec 3), for one (C, heads): from
 * S = u^T u and the column sums m of an image's N normalised tokens, the attention of every
 * head and then the whole branch as one Linear, W' = gamma Wproj blockdiag(A) Wv and b'.
 * Independent of N, so the whole-image path ({@link CovarianceXca}) and the banded one of
 * streamed blocks ({@link CpuBackend#xcaCovFold}) share it. See xcit.h (xcit_cpu_xca_cov_*).
 */
final class CovarianceFold {
    final long c;
    final int heads;
    private final MemorySegment t, attn, mixed, vb, p;
    private final RuntimeMatMul qk, proj;

    CovarianceFold(Dnnl.Scope scope, long c, int heads) {
        var arena = scope.arena();
        this.c = c;
        this.heads = heads;
        long f = Float.BYTES;
        t = arena.allocate(2 * c * c * f, 64);
        attn = arena.allocate(c * (c / heads) * f, 64);
        mixed = arena.allocate(c * c * f, 64);
        vb = arena.allocate(c * f, 64);
        p = arena.allocate(c * c * f, 64);
        qk = scope.runtimeMatmul(Operand.rowMajor(2 * c, c), Operand.rowMajor(c, c), false, Operand.rowMajor(2 * c, c), false, false);
        proj = scope.runtimeMatmul(Operand.rowMajor(c, c), Operand.rowMajor(c, c), false, Operand.rowMajor(c, c), false, false);
    }

    /** wfold (C, C), bfold (C) from s (C, C) and colsum (C) of n tokens; {@code dry}: no GEMM executes. */
    void fold(NativeContext ctx, long n, MemorySegment s, MemorySegment colsum, MemorySegment wfold, MemorySegment bfold,
              MemorySegment qkvWeight, MemorySegment qkvBias, MemorySegment temperature, MemorySegment projWeight,
              MemorySegment projBias, MemorySegment gamma, boolean dry) {
        MemorySegment h = ctx.handle();
        if (!dry) qk.run(qkvWeight, s, MemorySegment.NULL, t);                                  // T = Wqk S
        ctx.check(xcit_cpu_xca_cov_attention_f32(h, attn, t, qkvWeight, qkvBias, colsum, temperature, n, c, heads),
                "xcit_cpu_xca_cov_attention_f32");
        ctx.check(xcit_cpu_xca_cov_mix_f32(h, mixed, vb, attn, qkvWeight, qkvBias, c, heads), "xcit_cpu_xca_cov_mix_f32");
        if (!dry) proj.run(projWeight, mixed, MemorySegment.NULL, p);                            // P = Wproj M
        ctx.check(xcit_cpu_xca_cov_finish_f32(h, wfold, bfold, p, projWeight, projBias, vb, gamma, c),
                "xcit_cpu_xca_cov_finish_f32");
    }
}
