package org.xcit4j.backend.cpu;

import static org.xcit4j.bindings.xcit.xcit_h.*;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import org.xcit4j.backend.NativeContext;
import org.xcit4j.backend.cpu.RuntimeMatMul.Operand;
import org.xcit4j.tensor.Tensor;

/**
 * CpuBackend's covariance route for streamed blocks ({@link Backend#xcaCovAccumulate},
 * {@link Backend#xcaCovFold}, {@link Backend#xcaCovApply}): u^T u and the column sums
 * accumulated band by band, the fold of {@link CovarianceFold}, the folded Linear applied
 * band by band. Primitives are made once per band height, and the two halves of a (C + 1, C)
 * stats or folded tensor are sliced once per tensor, so a run allocates nothing. Arguments
 * are checked by the caller.
 */
final class CovarianceBands {
    private final Dnnl.Scope scope;
    private final ByRows<GramMatrix> covarianceSet = new ByRows<>(), covarianceAdd = new ByRows<>();
    private final ByRows<RuntimeMatMul> applies = new ByRows<>();
    private final Halves stats = new Halves(), folded = new Halves();
    private CovarianceFold fold;
    private MemorySegment bandSums = MemorySegment.NULL;

    CovarianceBands(Dnnl.Scope scope) {
        this.scope = scope;
    }

    /** statsTensor (C + 1, C) (+)= [u^T u ; column sums] of the band u (m, C). */
    void accumulate(NativeContext ctx, Tensor statsTensor, Tensor u, long m, long c, boolean accumulate, boolean dry) {
        stats.of(statsTensor, c);
        MemorySegment h = ctx.handle();
        if (!accumulate) {
            ctx.check(xcit_cpu_column_sums_f32(h, stats.row, u.segment(), m, c), "xcit_cpu_column_sums_f32");
        } else {
            if (bandSums.byteSize() < c * Float.BYTES) bandSums = scope.arena().allocate(c * Float.BYTES, 64);
            ctx.check(xcit_cpu_column_sums_f32(h, bandSums, u.segment(), m, c), "xcit_cpu_column_sums_f32");
            ctx.check(xcit_cpu_add_scaled_f32(h, stats.row, bandSums, MemorySegment.NULL, 1, c), "xcit_cpu_add_scaled_f32");
        }
        ByRows<GramMatrix> made = accumulate ? covarianceAdd : covarianceSet;
        GramMatrix gram = made.get(m);
        if (gram == null) gram = made.put(m, new GramMatrix(scope, m, c, accumulate, false));
        gram.run(ctx, u.segment(), stats.square, dry);                                                  // S (+)= u^T u
    }

    /** foldedTensor (C + 1, C) = [W' ; b'] from statsTensor over {@code tokens} tokens. */
    void fold(NativeContext ctx, Tensor foldedTensor, Tensor statsTensor, long tokens, Tensor qkvWeight, Tensor qkvBias,
              Tensor temperature, int heads, Tensor projWeight, Tensor projBias, Tensor gamma, long c, boolean dry) {
        stats.of(statsTensor, c);
        folded.of(foldedTensor, c);
        if (fold == null || fold.c != c || fold.heads != heads) fold = new CovarianceFold(scope, c, heads);
        fold.fold(ctx, tokens, stats.square, stats.row, folded.square, folded.row, qkvWeight.segment(), qkvBias.segment(),
                temperature.segment(), projWeight.segment(), projBias.segment(),
                gamma == null ? MemorySegment.NULL : gamma.segment(), dry);
    }

    /** x (m, C) += u (m, C) W'^T + b' with foldedTensor = [W' ; b']. */
    void apply(Tensor x, Tensor u, Tensor foldedTensor, long m, long c, boolean dry) {
        folded.of(foldedTensor, c);
        RuntimeMatMul mm = applies.get(m);
        if (mm == null) {
            mm = applies.put(m, scope.runtimeMatmul(Operand.rowMajor(m, c), Operand.transposed(c, c), true, Operand.rowMajor(m, c),
                    true, false));
        }
        if (!dry) mm.run(u.segment(), folded.square, folded.row, x.segment());
    }

    /** The (C, C) block and the last row of a (C + 1, C) tensor, sliced when the tensor changes. */
    private static final class Halves {
        private Tensor of;
        MemorySegment square, row;

        void of(Tensor t, long c) {
            if (t == of) return;
            square = t.segment().asSlice(0, c * c * Float.BYTES);
            row = t.segment().asSlice(c * c * Float.BYTES, c * Float.BYTES);
            of = t;
        }
    }

    /** Primitives by row count: a band height or two per session, found without boxing a key. */
    private static final class ByRows<T> {
        private long[] rows = new long[0];
        private Object[] made = new Object[0];

        @SuppressWarnings("unchecked")
        T get(long m) {
            for (int i = 0; i < rows.length; i++) if (rows[i] == m) return (T) made[i];
            return null;
        }

        T put(long m, T mm) {
            rows = Arrays.copyOf(rows, rows.length + 1);
            made = Arrays.copyOf(made, made.length + 1);
            rows[rows.length - 1] = m;
            made[made.length - 1] = mm;
            return mm;
        }
    }
}
