package org.xcit4j.backend.cpu;

import static org.xcit4j.bindings.xcit.xcit_h.*;

import java.lang.foreign.MemorySegment;
import org.xcit4j.backend.NativeContext;
import org.xcit4j.backend.cpu.RuntimeMatMul.Operand;
import org.xcit4j.tensor.Tensor;

/**
 * The covariance-folded attention branch (spec 3) for one (N, C, heads): per image,
 * S = u^T u and m = sum u give every Gram entry and norm, and blockdiag(A), Wv and Wproj
 * fold into one C x C Linear ({@link CovarianceFold}), so the branch costs 2 N C^2 + O(C^3) multiply-adds instead of
 * 4 N C^2 + 2 N C d. Buffers and primitives are made once; {@link #run} allocates nothing.
 * See xcit.h (xcit_cpu_xca_cov_*) for the algebra.
 */
final class CovarianceXca {
    final long n, c;
    final int heads;
    private final MemorySegment colsum, s, wfold, bfold;
    private final MemorySegment[] images; // per image: the (N, C) slice of u, and of x
    private final Tensor u, x;
    private final CovarianceFold fold;
    private final GramMatrix gram;
    private final RuntimeMatMul folded;
    private final boolean bf16;
    private final MemorySegment uHalf, wHalf; // bf16 copies of u_i and W' (bf16 precision only)

    CovarianceXca(Dnnl.Scope scope, Tensor u, Tensor x, int heads, boolean bf16) {
        var arena = scope.arena();
        this.u = u;
        this.x = x;
        this.n = u.shape().dim(1);
        this.c = u.shape().dim(2);
        this.heads = heads;
        long f = Float.BYTES;
        colsum = arena.allocate(c * f, 64);
        s = arena.allocate(c * c * f, 64);
        wfold = arena.allocate(c * c * f, 64);
        bfold = arena.allocate(c * f, 64);
        int b = (int) u.shape().dim(0);
        images = new MemorySegment[2 * b];
        long bytes = n * c * f;
        for (int i = 0; i < b; i++) {
            images[2 * i] = u.segment().asSlice(i * bytes, bytes);
            images[2 * i + 1] = x.segment().asSlice(i * bytes, bytes);
        }
        // In bf16 precision the two per-token GEMMs (S = u^T u and the folded Linear) take bf16
        // inputs and accumulate in float32, like every other GEMM; the O(C^3) products and all
        // the glue stay float32.
        gram = new GramMatrix(scope, n, c, false, bf16);
        fold = new CovarianceFold(scope, c, heads);
        folded = scope.runtimeMatmul(Operand.rowMajor(n, c), Operand.transposed(c, c), true, Operand.rowMajor(n, c), true, bf16);
        this.bf16 = bf16;
        uHalf = bf16 ? arena.allocate(n * c * 2, 64) : MemorySegment.NULL;
        wHalf = bf16 ? arena.allocate(c * c * 2, 64) : MemorySegment.NULL;
    }

    boolean serves(Tensor u, Tensor x, int heads, boolean bf16) {
        return this.u == u && this.x == x && this.heads == heads && this.bf16 == bf16;
    }

    /** The branch for every image; {@code dry}: the C steps only, no GEMM executes (CpuBackend.prepare). */
    void run(NativeContext ctx, Tensor qkvWeight, Tensor qkvBias, Tensor temperature, Tensor projWeight,
             Tensor projBias, Tensor gamma, boolean dry) {
        MemorySegment h = ctx.handle();
        for (int i = 0; i < images.length; i += 2) {
            MemorySegment ui = images[i], xi = images[i + 1];
            ctx.check(xcit_cpu_column_sums_f32(h, colsum, ui, n, c), "xcit_cpu_column_sums_f32");
            if (bf16) ctx.check(xcit_cpu_to_bf16(h, uHalf, ui, n * c), "xcit_cpu_to_bf16");
            MemorySegment uGemm = bf16 ? uHalf : ui;
            gram.run(ctx, uGemm, s, dry);                                                       // S = u^T u
            fold.fold(ctx, n, s, colsum, wfold, bfold, qkvWeight.segment(), qkvBias.segment(), temperature.segment(),
                    projWeight.segment(), projBias.segment(), gamma == null ? MemorySegment.NULL : gamma.segment(), dry);
            if (bf16) ctx.check(xcit_cpu_to_bf16(h, wHalf, wfold, c * c), "xcit_cpu_to_bf16");
            if (!dry) folded.run(uGemm, bf16 ? wHalf : wfold, bfold, xi);                        // x += u W'^T + b'
        }
    }
}
