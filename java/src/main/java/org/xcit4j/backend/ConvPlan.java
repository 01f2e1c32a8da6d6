package org.xcit4j.backend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The im2col + GEMM schedule of one patch-embedding stage for one (in, out) pair, made on
 * the first call: chunks of about 4 MB of columns, their input images and output slices
 * (made once, as slicing segments on every call would allocate).
 */
final class ConvPlan {
    /** im2col rows per GEMM call: about 4 MB of float32 columns. */
    static final long IM2COL_FLOATS = 1L << 20;

    final Tensor in, out, weight, permuted;
    final long k, chunk;
    final long[] row0, rows;
    final MemorySegment[] src, dst;

    ConvPlan(Tensor in, Tensor out, Tensor weight, Tensor permuted, long h, long w, long cin, long cout) {
        this.in = in;
        this.out = out;
        this.weight = weight;
        this.permuted = permuted;
        long b = in.shape().dim(0), pixels = ((h + 1) / 2) * ((w + 1) / 2);
        this.k = 9 * cin;
        this.chunk = Math.min(pixels, Math.max(64, IM2COL_FLOATS / k));
        int perImage = (int) ((pixels + chunk - 1) / chunk), n = (int) b * perImage;
        row0 = new long[n];
        rows = new long[n];
        src = new MemorySegment[n];
        dst = new MemorySegment[n];
        long imageIn = h * w * cin * Float.BYTES, imageOut = pixels * cout * Float.BYTES;
        for (int i = 0; i < n; i++) {
            long img = i / perImage;
            row0[i] = (i % perImage) * chunk;
            rows[i] = Math.min(chunk, pixels - row0[i]);
            src[i] = in.segment().asSlice(img * imageIn, imageIn);
            dst[i] = out.segment().asSlice(img * imageOut + row0[i] * cout * Float.BYTES, rows[i] * cout * Float.BYTES);
        }
    }

    /** (Cout, Cin, 3, 3) -> (Cout, 3, 3, Cin): the im2col column order, so the conv is a GEMM. */
    static Tensor permute(Arena arena, Tensor weight, long cout, long cin) {
        Tensor p = Tensor.allocate(arena, Shape.of(cout, 9 * cin));
        for (long o = 0; o < cout; o++)
            for (long c = 0; c < cin; c++)
                for (long t = 0; t < 9; t++) p.set(o * 9 * cin + t * cin + c, weight.get((o * cin + c) * 9 + t));
        return p;
    }
}
