package org.xcit4j.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The im2col + GEMM schedule of one {@code conv3x3s2} call on one (in, out) pair of views,
 * made on its first call: per image, the output pixels split evenly into chunks of at most
 * about 4 MB of columns (even chunks: at most two row counts, so two GEMM primitives), with
 * their input images and output slices made once (slicing segments on every call would allocate).
 */
final class ConvPlan {
    /** im2col rows per GEMM call: at most about 4 MB of float32 columns. */
    static final long IM2COL_FLOATS = 1L << 20;

    final Tensor in, weight;
    /** weight in im2col order ({@link #permute}), the GEMM's (Cout, 9 Cin) operand. */
    final Tensor gemmWeight;
    final int firstRow;
    final long k, chunk;
    final long[] row0, rows;
    final MemorySegment[] src, dst;

    /** For in (B, h, w, cin) and out (B, outRows, ceil(w/2), cout), output rows from firstRow. */
    ConvPlan(Tensor in, Tensor out, Tensor weight, Tensor gemmWeight, int firstRow, long h, long w, long cin, long cout) {
        this.in = in;
        this.weight = weight;
        this.gemmWeight = gemmWeight;
        this.firstRow = firstRow;
        long b = in.shape().dim(0), ow = (w + 1) / 2, pixels = out.shape().dim(1) * ow, first = firstRow * ow;
        this.k = 9 * cin;
        int perImage = (int) Math.max(1, (pixels * k + IM2COL_FLOATS - 1) / IM2COL_FLOATS), n = (int) b * perImage;
        this.chunk = (pixels + perImage - 1) / perImage;
        row0 = new long[n];
        rows = new long[n];
        src = new MemorySegment[n];
        dst = new MemorySegment[n];
        long imageIn = h * w * cin * Float.BYTES, imageOut = pixels * cout * Float.BYTES;
        for (int i = 0; i < n; i++) {
            long img = i / perImage, j = i % perImage, from = j * pixels / perImage, to = (j + 1) * pixels / perImage;
            row0[i] = first + from;
            rows[i] = to - from;
            src[i] = in.segment().asSlice(img * imageIn, imageIn);
            dst[i] = out.segment().asSlice(img * imageOut + from * cout * Float.BYTES, rows[i] * cout * Float.BYTES);
        }
    }

    /** Whether this plan is the one for {@code in} and {@code weight} from {@code firstRow} (its out is the map's key). */
    boolean serves(Tensor in, Tensor weight, int firstRow) {
        return this.in == in && this.weight == weight && this.firstRow == firstRow;
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
