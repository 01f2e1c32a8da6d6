package org.xcit4j.model;

import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.MemoryPlan;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The patch embedding and positions in bands of token rows, so no stage ever exists at full
 * size (at full resolution the first stage's output is 4x the input for p16, the largest
 * tensor of the network). The streamed trunk uses it, and so does the full trunk on backends
 * that compute bands of conv rows ({@link Backend#convRowBands}).
 *
 * <p>Token rows [a, b) are rows [a 2^k, b 2^k) of the output of the stage k before the last
 * (clipped at the bottom), and every stage computes each of its rows once. Output row y of a
 * 3x3 stride-2 conv reads input rows 2y-1 .. 2y+1, so a band's first row also needs the last
 * row of the band before. Each stage's band buffer therefore keeps the previous band's last
 * two rows on top (the carry): the next stage reads its input from the even row 2lo - 2,
 * which keeps the conv's stride grid on the image's, and asks for output rows from row 1 of
 * that input (its row 0 would need row 2lo - 3). The image band is converted afresh for each
 * band (its two rows of overlap are cheap), and the last stage writes the token rows in place.
 */
final class StreamedPatchEmbed {
    private final Xcit model;
    private final Backend backend;
    private final int height, width, gridH, gridW, bandRows, stages, bands;
    private final boolean fixedPositions;
    private final int[] outH, outW;   // output side of stage s
    private final long imageRows;     // rows of the largest image band
    private final long[] bufferRows;  // stage s < last: 2 carry rows + the most rows a band adds

    // Views made at bind time (the per-input ones when an input first comes), so runs allocate nothing.
    private Tensor[] imageOut, imageNchw, posFeatures, position;
    private Tensor[][] convIn, convOut;    // [band][stage]; convOut[band][last] is per image: tokenRows
    private Tensor[][] tokenRows;          // [image][band]
    private DataMoves.Copy[][] carry;      // [band][stage < last]
    private Tensor[][] planeDst;           // [band][channel]: the NCHW band's planes
    private Tensor input;                  // the input the plane copies below read
    private DataMoves.Copy[][][] planeCopies; // [image][band][channel]

    /**
     * {@code fixedPositions}: the caller holds the whole (N, C) positional table and passes it to
     * {@link #bind}; otherwise the positions are computed band by band into band buffers.
     */
    StreamedPatchEmbed(Xcit model, Backend backend, int height, int width, int gridH, int gridW, int bandRows,
                       boolean fixedPositions) {
        this.model = model;
        this.backend = backend;
        this.height = height;
        this.width = width;
        this.gridH = gridH;
        this.gridW = gridW;
        this.bandRows = bandRows;
        this.fixedPositions = fixedPositions;
        this.stages = model.config().patchStages();
        this.bands = (gridH + bandRows - 1) / bandRows;
        this.outH = new int[stages];
        this.outW = new int[stages];
        int h = height, w = width;
        for (int s = 0; s < stages; s++) {
            h = (h + 1) / 2;
            w = (w + 1) / 2;
            outH[s] = h;
            outW[s] = w;
        }
        if (outH[stages - 1] != gridH || outW[stages - 1] != gridW) {
            throw new IllegalStateException("patch stages end at " + outH[stages - 1] + " x " + outW[stages - 1] + ", not the "
                    + gridH + " x " + gridW + " token grid");
        }
        this.bufferRows = new long[stages - 1];
        long most = 0;
        for (int j = 0; j < bands; j++) {
            int a = j * bandRows, b = Math.min(gridH, a + bandRows);
            most = Math.max(most, imageRow1(b) - imageRow0(a));
            for (int s = 0; s < stages - 1; s++) bufferRows[s] = Math.max(bufferRows[s], 2 + hi(s, b) - lo(s, a));
        }
        this.imageRows = most;
    }

    /** First output row of stage s in the band starting at token row a. */
    private int lo(int s, int a) {
        return a << (stages - 1 - s);
    }

    /** End of the output rows of stage s in the band ending at token row b (clipped at the bottom). */
    private int hi(int s, int b) {
        return Math.min(b << (stages - 1 - s), outH[s]);
    }

    /** Image rows of the band starting at token row a: from the even row 2lo - 2 (0 for the first band). */
    private int imageRow0(int a) {
        return Math.max(0, 2 * lo(0, a) - 2);
    }

    private int imageRow1(int b) {
        return Math.min(height, 2 * hi(0, b));
    }

    void declare(MemoryPlan.Builder p, int step) {
        XcitConfig cfg = model.config();
        p.add("pe.in", Shape.of(1, 3, imageRows, width), step, step)
                .add("pe.image", Shape.of(1, imageRows, width, 3), step, step);
        if (!fixedPositions) {
            p.add("pe.posFeatures", Shape.of((long) bandRows * gridW, 2 * FourierPosition.HIDDEN), step, step)
                    .add("pe.position", Shape.of((long) bandRows * gridW, cfg.embedDim()), step, step);
        }
        for (int s = 0; s < stages - 1; s++) {
            p.add("pe.stage" + s, Shape.of(1, bufferRows[s], outW[s], cfg.patchStageChannels(s)), step, step);
        }
    }

    /**
     * Makes every view the runs use: of the plan's band buffers, of {@code tokens} (B, N, C)
     * (the output) and of {@code fixedPosition} (N, C), the caller's table, or null when the
     * positions are computed per band.
     */
    void bind(MemoryPlan plan, Tensor tokens, Tensor fixedPosition) {
        if ((fixedPosition != null) != fixedPositions) {
            throw new IllegalArgumentException("fixedPosition must be given exactly when the embedding was made with fixedPositions");
        }
        int batch = tokens.shape().size(0), c = model.config().embedDim();
        Tensor inBand = plan.tensor("pe.in"), imageBand = plan.tensor("pe.image");
        Tensor[] stageBand = new Tensor[stages - 1];
        for (int s = 0; s < stages - 1; s++) stageBand[s] = plan.tensor("pe.stage" + s);
        imageOut = new Tensor[bands];
        imageNchw = new Tensor[bands];
        planeDst = new Tensor[bands][3];
        convIn = new Tensor[bands][stages];
        convOut = new Tensor[bands][stages - 1];
        carry = new DataMoves.Copy[bands][stages - 1];
        posFeatures = new Tensor[bands];
        position = new Tensor[bands];
        tokenRows = new Tensor[batch][bands];
        for (int j = 0; j < bands; j++) {
            int a = j * bandRows, b = Math.min(gridH, a + bandRows);
            long rows = imageRow1(b) - imageRow0(a), plane = rows * width;
            Tensor nchw = inBand.reshape(3 * imageRows * width).slice(0, 3 * plane);
            for (int ch = 0; ch < 3; ch++) planeDst[j][ch] = nchw.slice(ch * plane, (ch + 1) * plane);
            imageNchw[j] = nchw.reshape(1, 3, rows, width);
            imageOut[j] = imageBand.reshape(imageRows * width * 3).slice(0, plane * 3).reshape(1, rows, width, 3);
            convIn[j][0] = imageOut[j];
            for (int s = 0; s < stages - 1; s++) {
                int n = hi(s, b) - lo(s, a);
                convOut[j][s] = DataMoves.rows(stageBand[s], 2, 2 + n);
                // The next stage reads from row 2lo - 2: the carry's two rows, but none in the first band.
                convIn[j][s + 1] = DataMoves.rows(stageBand[s], a == 0 ? 2 : 0, 2 + n);
                if (j + 1 < bands) carry[j][s] = DataMoves.Copy.of(DataMoves.rows(stageBand[s], 0, 2), DataMoves.rows(stageBand[s], n, n + 2));
            }
            long tokensFrom = (long) a * gridW, tokensTo = (long) b * gridW;
            if (fixedPositions) {
                position[j] = fixedPosition.slice(tokensFrom, tokensTo);
            } else {
                posFeatures[j] = plan.tensor("pe.posFeatures").slice(0, tokensTo - tokensFrom);
                position[j] = plan.tensor("pe.position").slice(0, tokensTo - tokensFrom);
            }
            for (int img = 0; img < batch; img++) {
                tokenRows[img][j] = tokens.slice(img, img + 1).reshape((long) gridH * gridW, c).slice(tokensFrom, tokensTo)
                        .reshape(1, b - a, gridW, c);
            }
        }
        input = null;
    }

    /** tokens (B, N, C) of {@link #bind} = patch embedding of input (B, 3, H, W) plus positions, band by band. */
    void forward(Tensor input) {
        if (input != this.input) bindInput(input);
        PatchEmbed pe = model.patchEmbed();
        for (int img = 0; img < tokenRows.length; img++) {
            for (int j = 0; j < bands; j++) {
                int a = j * bandRows, first = a == 0 ? 0 : 1;
                if (!fixedPositions) {
                    FourierPosition.features(posFeatures[j], gridH, gridW, a, Math.min(gridH, a + bandRows));
                    model.position().project(backend, position[j], posFeatures[j]);
                }
                for (DataMoves.Copy plane : planeCopies[img][j]) plane.run(backend);
                backend.nchwToNhwc(imageOut[j], imageNchw[j]);
                for (int s = 0; s < stages; s++) {
                    pe.convBand(backend, s, s + 1 < stages ? convOut[j][s] : tokenRows[img][j], convIn[j][s], first);
                }
                if (j + 1 < bands) {
                    for (DataMoves.Copy move : carry[j]) move.run(backend);
                }
                backend.addBroadcast(tokenRows[img][j], position[j]);
            }
        }
    }

    /** The plane copies from {@code input}: image img's rows of each band, channel by channel. */
    private void bindInput(Tensor input) {
        long plane = (long) height * width;
        Tensor flat = input.reshape(input.numel());
        planeCopies = new DataMoves.Copy[tokenRows.length][bands][3];
        for (int img = 0; img < tokenRows.length; img++) {
            for (int j = 0; j < bands; j++) {
                int a = j * bandRows;
                long r0 = imageRow0(a), r1 = imageRow1(Math.min(gridH, a + bandRows));
                for (int ch = 0; ch < 3; ch++) {
                    long base = (img * 3L + ch) * plane;
                    planeCopies[img][j][ch] = DataMoves.Copy.of(planeDst[j][ch], flat.slice(base + r0 * width, base + r1 * width));
                }
            }
        }
        this.input = input;
    }
}
