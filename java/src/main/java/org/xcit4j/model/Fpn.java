package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The four FPN ops of the original detection/segmentation backbone (spec section 6), turning
 * raw block outputs on the Hp x Wp token grid into maps at strides 4, 8, 16 and 32:
 * <pre>
 *   patch 16: fpn1 = ConvT(2,2) -> BN -> GELU -> ConvT(2,2)   fpn2 = ConvT(2,2)   fpn3 = identity   fpn4 = MaxPool(2)
 *   patch 8:  fpn1 = ConvT(2,2)                               fpn2 = identity     fpn3 = MaxPool(2) fpn4 = MaxPool(4)
 * </pre>
 * Keys {@code fpn1.0.*}, {@code fpn1.1.*} (BN or SyncBN), {@code fpn1.3.*}, {@code fpn2.0.*}.
 * Classification checkpoints have none of them: then only the parameter-free levels exist
 * (see {@link #missing}).
 */
final class Fpn {
    /** What a level does to the grid; {@code scale} is its output side over the grid's. */
    enum Op {
        UP4, UP2, IDENTITY, POOL2, POOL4;

        boolean upsamples() {
            return this == UP4 || this == UP2;
        }
    }

    static final int LEVELS = 4;

    /** ConvTranspose2d(C, C, 2, stride 2): weight (Cin, Cout, 2, 2), bias (Cout). */
    record ConvT(Tensor weight, Tensor bias) {
        static ConvT load(WeightScope scope, int c) {
            return new ConvT(scope.tensor("weight", c, c, 2, 2), scope.tensor("bias", c));
        }

        void forward(Backend backend, Tensor out, Tensor in) {
            backend.convTranspose2x2(out, in, weight, bias);
        }
    }

    private final int patchSize;
    private final ConvT fpn1First;   // p16 and p8
    private final BatchNorm fpn1Bn;  // p16 only
    private final ConvT fpn1Second;  // p16 only
    private final ConvT fpn2;        // p16 only

    private Fpn(int patchSize, ConvT fpn1First, BatchNorm fpn1Bn, ConvT fpn1Second, ConvT fpn2) {
        this.patchSize = patchSize;
        this.fpn1First = fpn1First;
        this.fpn1Bn = fpn1Bn;
        this.fpn1Second = fpn1Second;
        this.fpn2 = fpn2;
    }

    /** Loads fpn1 / fpn2 where the checkpoint has them; a part that is present must be complete. */
    static Fpn load(WeightScope scope, XcitConfig config) {
        int c = config.embedDim();
        WeightScope f1 = scope.child("fpn1");
        ConvT first = null, second = null, up2 = null;
        BatchNorm bn = null;
        if (f1.child("0").has("weight")) {
            first = ConvT.load(f1.child("0"), c);
            if (config.patchSize() == 16) {
                bn = BatchNorm.load(f1.child("1"), c);
                second = ConvT.load(f1.child("3"), c);
            }
        }
        if (config.patchSize() == 16 && scope.child("fpn2").child("0").has("weight")) {
            up2 = ConvT.load(scope.child("fpn2").child("0"), c);
        }
        return new Fpn(config.patchSize(), first, bn, second, up2);
    }

    Op op(int level) {
        return patchSize == 16
                ? new Op[] {Op.UP4, Op.UP2, Op.IDENTITY, Op.POOL2}[level]
                : new Op[] {Op.UP2, Op.IDENTITY, Op.POOL2, Op.POOL4}[level];
    }

    /** Output stride of a level in pixels: 4, 8, 16, 32. */
    static int stride(int level) {
        return 4 << level;
    }

    /** Whether the checkpoint has what the level needs. */
    boolean available(int level) {
        if (level == 0) return fpn1First != null;
        return !(level == 1 && patchSize == 16) || fpn2 != null;
    }

    /** Null if the level is available, else which weights it lacks. */
    String missing(int level) {
        if (available(level)) return null;
        return level == 0 ? "fpn1 (" + (patchSize == 16 ? "fpn1.0/fpn1.1/fpn1.3" : "fpn1.0") + ")" : "fpn2 (fpn2.0)";
    }

    boolean hasWeights() {
        return fpn1First != null || fpn2 != null;
    }

    /** Output (B, h, w, C) of a level for a (B, Hp, Wp, C) grid; pooling floors odd sides as MaxPool2d does. */
    Shape outShape(int level, int batch, int gridH, int gridW, int c) {
        return switch (op(level)) {
            case UP4 -> Shape.of(batch, 4L * gridH, 4L * gridW, c);
            case UP2 -> Shape.of(batch, 2L * gridH, 2L * gridW, c);
            case IDENTITY -> Shape.of(batch, gridH, gridW, c);
            case POOL2 -> Shape.of(batch, gridH / 2, gridW / 2, c);
            case POOL4 -> Shape.of(batch, gridH / 4, gridW / 4, c);
        };
    }

    /**
     * out = level(in), both channel-last; {@code mid} (B, 2Hp, 2Wp, C) is scratch for the p16
     * stride-4 chain and may be null otherwise. Not for IDENTITY (the caller copies).
     */
    void forward(Backend backend, int level, Tensor out, Tensor in, Tensor mid) {
        switch (op(level)) {
            case UP4 -> {
                fpn1First.forward(backend, mid, in);
                backend.channelAffine(mid, fpn1Bn.scale(), fpn1Bn.shift());
                backend.gelu(mid);
                fpn1Second.forward(backend, out, mid);
            }
            case UP2 -> (level == 0 ? fpn1First : fpn2).forward(backend, out, in);
            case POOL2 -> backend.maxPool(out, in, 2);
            case POOL4 -> backend.maxPool(out, in, 4);
            case IDENTITY -> throw new IllegalStateException("identity level " + level + " has no op");
        }
    }

    long parameters() {
        long p = 0;
        for (ConvT t : new ConvT[] {fpn1First, fpn1Second, fpn2}) if (t != null) p += t.weight().numel() + t.bias().numel();
        return fpn1Bn == null ? p : p + fpn1Bn.parameters();
    }
}
