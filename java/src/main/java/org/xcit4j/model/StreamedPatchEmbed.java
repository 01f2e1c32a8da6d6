package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.MemoryPlan;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The patch embedding and positions in bands of token rows, so no stage ever exists at full
 * size (at full resolution the first stage's output is 4x the input for p16, the largest
 * tensor of the network). Token rows [a, b) of the last stage need rows [2a - 2, 2b + 1) of
 * the stage before: a 3x3 stride-2 conv reads input rows 2y-1..2y+1, and starting the input
 * band on an even row keeps the op's stride grid aligned with the image's (its first and last
 * output rows then see the band's zero padding instead of real neighbours, so they are
 * recomputed by the neighbouring band and dropped here). Recursing to the image gives each
 * stage's band; the image band is copied plane by plane from the NCHW input.
 */
final class StreamedPatchEmbed {
    private final Xcit model;
    private final Backend backend;
    private final int height, width, gridH, gridW, bandRows, stages;
    private final int[] sideH, sideW;  // input side of stage s (s = 0: the image)
    private final long[] maxRows;      // per stage s: most output rows a band computes; index stages: image rows
    private Tensor inBand, imageBand, posFeatures, position;
    private final Tensor[] stageBand;

    StreamedPatchEmbed(Xcit model, Backend backend, int height, int width, int gridH, int gridW, int bandRows) {
        this.model = model;
        this.backend = backend;
        this.height = height;
        this.width = width;
        this.gridH = gridH;
        this.gridW = gridW;
        this.bandRows = bandRows;
        this.stages = model.config().patchStages();
        this.sideH = new int[stages];
        this.sideW = new int[stages];
        int h = height, w = width;
        for (int s = 0; s < stages; s++) {
            sideH[s] = h;
            sideW[s] = w;
            h = (h + 1) / 2;
            w = (w + 1) / 2;
        }
        this.maxRows = new long[stages + 1];
        for (int a = 0; a < gridH; a += bandRows) {
            int[][] r = ranges(a, Math.min(gridH, a + bandRows));
            for (int s = 0; s < stages; s++) maxRows[s] = Math.max(maxRows[s], (r[s][1] - r[s][0] + 1) / 2);
            maxRows[stages] = Math.max(maxRows[stages], r[0][1] - r[0][0]);
        }
        this.stageBand = new Tensor[stages];
    }

    /**
     * For final token rows [a, b): rows [lo, hi) of the input of every stage s (s = 0: image
     * rows). Stage s then computes rows [lo/2, lo/2 + ceil((hi - lo)/2)), a superset of what
     * stage s + 1 (or the caller) needs.
     */
    private int[][] ranges(int a, int b) {
        int[][] r = new int[stages][];
        for (int s = stages - 1; s >= 0; s--) {
            int lo = a == 0 ? 0 : 2 * a - 2, hi = Math.min(sideH[s], 2 * b + 1);
            r[s] = new int[] {lo, hi};
            a = lo;
            b = hi;
        }
        return r;
    }

    void declare(MemoryPlan.Builder p, int step) {
        XcitConfig cfg = model.config();
        p.add("pe.in", Shape.of(1, 3, maxRows[stages], width), step, step)
                .add("pe.image", Shape.of(1, maxRows[stages], width, 3), step, step)
                .add("pe.posFeatures", Shape.of((long) bandRows * gridW, 2 * FourierPosition.HIDDEN), step, step)
                .add("pe.position", Shape.of((long) bandRows * gridW, cfg.embedDim()), step, step);
        for (int s = 0; s < stages; s++) {
            int w = s + 1 < stages ? sideW[s + 1] : gridW;
            p.add("pe.stage" + s, Shape.of(1, maxRows[s], w, cfg.patchStageChannels(s)), step, step);
        }
    }

    void bind(MemoryPlan plan) {
        inBand = plan.tensor("pe.in");
        imageBand = plan.tensor("pe.image");
        posFeatures = plan.tensor("pe.posFeatures");
        position = plan.tensor("pe.position");
        for (int s = 0; s < stages; s++) stageBand[s] = plan.tensor("pe.stage" + s);
    }

    /** tokens (B, N, C) = patch embedding of input (B, 3, H, W) plus positions, band by band. */
    void forward(Tensor input, Tensor tokens) {
        int batch = input.shape().size(0), c = model.config().embedDim();
        PatchEmbed pe = model.patchEmbed();
        for (int a = 0; a < gridH; a += bandRows) {
            int b = Math.min(gridH, a + bandRows);
            int[][] r = ranges(a, b);
            Tensor pos = position.slice(0, (long) (b - a) * gridW);
            Tensor feats = posFeatures.slice(0, (long) (b - a) * gridW);
            FourierPosition.features(feats, gridH, gridW, a, b);
            model.position().project(backend, pos, feats);
            for (int img = 0; img < batch; img++) {
                Tensor band = imageBand(input, img, r[0][0], r[0][1]);
                for (int s = 0; s < stages; s++) {
                    int lo = r[s][0], hi = r[s][1], first = lo / 2, count = (hi - lo + 1) / 2;
                    int outW = s + 1 < stages ? sideW[s + 1] : gridW;
                    Tensor out = stageBand[s].reshape(maxRows[s] * outW * stageBand[s].shape().dim(3))
                            .slice(0, (long) count * outW * stageBand[s].shape().dim(3))
                            .reshape(1, count, outW, stageBand[s].shape().dim(3));
                    backend.conv3x3s2(out, band, pe.stage(s).weight(), pe.stage(s).bias());
                    // Rows this stage must hand on: the next stage's input range, or the final band [a, b).
                    int from = s + 1 < stages ? r[s + 1][0] : a, to = s + 1 < stages ? r[s + 1][1] : b;
                    band = DataMoves.rows(out, from - first, to - first);
                    if (s < stages - 1) backend.gelu(band);
                }
                Tensor dst = tokens.slice(img, img + 1).reshape((long) gridH * gridW, c).slice((long) a * gridW, (long) b * gridW);
                DataMoves.copy(backend, dst, band);
                backend.addBroadcast(dst, pos);
            }
        }
    }

    /** Image {@code img}'s rows [lo, hi) as a channel-last (1, hi - lo, W, 3) band. */
    private Tensor imageBand(Tensor input, int img, int lo, int hi) {
        long plane = (long) height * width, rows = hi - lo;
        Tensor nchw = inBand.reshape(3 * maxRows[stages] * width).slice(0, 3 * rows * width);
        for (int ch = 0; ch < 3; ch++) {
            Tensor src = input.reshape(input.shape().dim(0) * 3 * plane).slice((img * 3L + ch) * plane + (long) lo * width,
                    (img * 3L + ch) * plane + (long) hi * width);
            DataMoves.copy(backend, nchw.slice(ch * rows * width, (ch + 1) * rows * width), src);
        }
        Tensor out = imageBand.reshape(maxRows[stages] * width * 3).slice(0, rows * width * 3).reshape(1, rows, width, 3);
        backend.nchwToNhwc(out, nchw.reshape(1, 3, rows, width));
        return out;
    }
}
