package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Copies and layout changes built from existing backend ops over reshaped views, so they run
 * wherever the tensors live (host or device) without ops of their own:
 * <ul>
 * <li>a plain copy is {@code gatherRow} of row 0 from a (1, 1, n) view;</li>
 * <li>a batched 2-D transpose (B, R, S) -> (B, S, R) is {@code transpose}.</li>
 * </ul>
 */
final class DataMoves {
    private DataMoves() {
    }

    /** dst = src, same number of elements. */
    static void copy(Backend backend, Tensor dst, Tensor src) {
        Copy.of(dst, src).run(backend);
    }

    /** dst = src with the views made once, so {@link #run} allocates nothing. */
    record Copy(Tensor dstView, Tensor srcView) {
        static Copy of(Tensor dst, Tensor src) {
            if (dst.numel() != src.numel()) throw new IllegalArgumentException("copy of " + src.shape() + " into " + dst.shape());
            return new Copy(dst.reshape(1, dst.numel()), src.reshape(1, 1, src.numel()));
        }

        void run(Backend backend) {
            if (srcView.numel() > 0) backend.gatherRow(dstView, srcView, 0);
        }
    }

    /** out (B, S, R) = in (B, R, S) transposed per batch item. */
    static void transpose(Backend backend, Tensor out, Tensor in, long batch, long r, long s) {
        if (in.numel() == 0) return;
        backend.transpose(out, in, batch, r, s);
    }

    /** out (B, C, h, w) channel-first from in (B, h, w, C) channel-last. */
    static void toChannelFirst(Backend backend, Tensor out, Tensor in) {
        Shape s = in.shape();
        transpose(backend, out, in, s.dim(0), s.dim(1) * s.dim(2), s.dim(3));
    }

    /** Rows [from, to) of a channel-last (1, H, W, C) image, as a (1, to - from, W, C) view. */
    static Tensor rows(Tensor image, long from, long to) {
        Shape s = image.shape();
        if (s.rank() != 4 || s.dim(0) != 1) throw new IllegalArgumentException("rows of " + s + ": expected (1, H, W, C)");
        return image.reshape(s.dim(1), s.dim(2) * s.dim(3)).slice(from, to).reshape(1, to - from, s.dim(2), s.dim(3));
    }

    /** Image {@code b} of a (B, ...) tensor as a (1, ...) view. */
    static Tensor image(Tensor batch, long b) {
        return batch.slice(b, b + 1);
    }

    /**
     * out (R, S - 1) = in (R, S) without its first column, via the transposed layout where the
     * columns are rows: transpose to (S, R), drop row 0, transpose back. {@code scratch} holds
     * S*R. The views are made once, so {@link #run} allocates nothing.
     */
    record DropFirstColumn(Tensor in, Tensor transposed, Tensor tail, Tensor out, long r, long s) {
        static DropFirstColumn of(Tensor out, Tensor in, Tensor scratch, long r, long s) {
            Tensor t = scratch.reshape(s, r);
            return new DropFirstColumn(in, t, t.slice(1, s), out, r, s);
        }

        void run(Backend backend) {
            if (in.numel() == 0) return;
            backend.transpose(transposed, in, 1, r, s);
            if (out.numel() > 0) backend.transpose(out, tail, 1, s - 1, r);
        }
    }
}
