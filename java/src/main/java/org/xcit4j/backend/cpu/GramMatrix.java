package org.xcit4j.backend.cpu;

import static org.xcit4j.bindings.xcit.xcit_h.xcit_cpu_symmetrize_upper_f32;

import java.lang.foreign.MemorySegment;
import org.xcit4j.backend.NativeContext;
import org.xcit4j.backend.cpu.RuntimeMatMul.Operand;

/**
 * S (C, C) (+)= u^T u for u (M, C), the covariance route's largest product after the folded
 * Linear. S is symmetric, so column block i of u is multiplied only with blocks i.. (one
 * oneDNN matmul per block row, u_i^T [u_i ... u_last]) and the strictly lower triangle is
 * copied from the upper one: with 4 blocks that is 10/16 of the general product's work.
 * Measured at M 4096, C 384, 2 threads on Zen 5: the general product 3.3-4.5 ms, 2 blocks
 * 2.5 ms, 4 blocks 2.1 ms, 6 blocks 2.1 ms. Blocks stay >= 64 columns wide (and a multiple
 * of 16) so each matmul keeps the library's full-width kernels.
 */
final class GramMatrix {
    final long m, c;
    private final long block;
    private final int elementBytes;
    private final RuntimeMatMul[] products;
    private final MemorySegment[] uBlocks, sBlocks;
    private MemorySegment slicedU, slicedS;

    /** u in bfloat16 when {@code bf16} (S is float32 either way); {@code accumulate}: S += u^T u. */
    GramMatrix(Dnnl.Scope scope, long m, long c, boolean accumulate, boolean bf16) {
        this.m = m;
        this.c = c;
        this.elementBytes = bf16 ? 2 : Float.BYTES;
        this.block = Math.min(c, Math.max(64, (c / 4 + 15) / 16 * 16));
        int blocks = (int) ((c + block - 1) / block);
        products = new RuntimeMatMul[blocks];
        uBlocks = new MemorySegment[blocks];
        sBlocks = new MemorySegment[blocks];
        for (int i = 0; i < blocks; i++) {
            long first = i * block, rows = Math.min(block, c - first), cols = c - first;
            // u_i^T: u's columns [first, first + rows) seen transposed; the right operand is u's
            // columns [first, c); S's rows [first, first + rows) from its diagonal on.
            products[i] = scope.runtimeMatmul(new Operand(rows, m, 1, c), new Operand(m, cols, c, 1), false,
                    new Operand(rows, cols, c, 1), accumulate, bf16);
        }
    }

    /** S (+)= u^T u, then S's lower triangle from its upper; {@code dry}: no product executes. */
    void run(NativeContext ctx, MemorySegment u, MemorySegment s, boolean dry) {
        if (u != slicedU || s != slicedS) slice(u, s);
        if (!dry) {
            for (int i = 0; i < products.length; i++) products[i].run(uBlocks[i], uBlocks[i], MemorySegment.NULL, sBlocks[i]);
        }
        ctx.check(xcit_cpu_symmetrize_upper_f32(ctx.handle(), s, c), "xcit_cpu_symmetrize_upper_f32");
    }

    /** The block views of u and S, made when the buffers change (not per run of a session). */
    private void slice(MemorySegment u, MemorySegment s) {
        for (int i = 0; i < products.length; i++) {
            long first = i * block;
            uBlocks[i] = u.asSlice(first * elementBytes);
            sBlocks[i] = s.asSlice((first * c + first) * Float.BYTES);
        }
        slicedU = u;
        slicedS = s;
    }
}
