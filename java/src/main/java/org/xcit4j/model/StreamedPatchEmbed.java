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
 * (clipped at the bottom), and every stage computes each of its rows once. The first stage
 * reads its rows of the caller's channel-first image in place. Output row y of a 3x3 stride-2
 * conv reads input rows 2y-1 .. 2y+1, so a band's first row also needs the last row of the
 * band before: each later stage's input buffer keeps the previous band's last two rows on top
 * (the carry), the stage reads its input from the even row 2lo - 2, which keeps the conv's
 * stride grid on the image's, and asks for output rows from row 1 of that input (its row 0
 * would need row 2lo - 3). The last stage writes the token rows in place.
 */
final class StreamedPatchEmbed {
    private final Xcit model;
    private final Backend backend;
    private final int gridH, gridW, bandRows, stages, bands, carryRows;
    private final boolean fixedPositions;
    private final int[] outH, outW;   // output side of stage s
    private final long[] bufferRows;  // stage s < last: the carry rows + the most rows a band adds

    // Views made at bind time (the input's when an input first comes), so runs allocate nothing.
    private Tensor[] posFeatures, position;
    private Tensor[][] convIn, convOut;  // [band][stage]: convIn[band][0] unused (the image), convOut[band][last] unused (tokenRows)
    private Tensor[][] tokenRows;        // [image][band]
    private DataMoves.Copy[][] carry;    // [band][stage < last]
    private Tensor input;                // the input the views below belong to
    private Tensor[] images;             // [image]: (1, 3, H, W) views of input

    /**
     * {@code fixedPositions}: the caller holds the whole (N, C) positional table and passes it to
     * {@link #bind}; otherwise the positions are computed band by band into band buffers.
     */
    StreamedPatchEmbed(Xcit model, Backend backend, int height, int width, int gridH, int gridW, int bandRows,
                       boolean fixedPositions) {
        this.model = model;
        this.backend = backend;
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
        this.carryRows = bands > 1 ? 2 : 0;
        this.bufferRows = new long[stages - 1];
        for (int j = 0; j < bands; j++) {
            int a = j * bandRows, b = Math.min(gridH, a + bandRows);
            for (int s = 0; s < stages - 1; s++) bufferRows[s] = Math.max(bufferRows[s], carryRows + hi(s, b) - lo(s, a));
        }
    }

    /** First output row of stage s in the band starting at token row a. */
    private int lo(int s, int a) {
        return a << (stages - 1 - s);
    }

    /** End of the output rows of stage s in the band ending at token row b (clipped at the bottom). */
    private int hi(int s, int b) {
        return Math.min(b << (stages - 1 - s), outH[s]);
    }

    /** Plan steps the embedding takes from the first one {@link #declare} is given: one per stage. */
    int steps() {
        return stages;
    }

    /**
     * The first step from which the output tokens of {@code batch} images must be kept, for an
     * embedding declared from step {@code first}: every band writes its rows, and each image's
     * stages run after the previous image's tokens exist; only one band of one image writes
     * them in its last step alone.
     */
    int tokensFrom(int first, int batch) {
        return bands > 1 || batch > 1 ? first : first + stages - 1;
    }

    /**
     * Declares the band buffers for steps [first, first + steps()). With several bands every
     * stage's buffer is live throughout (the carries); with one band stage s's output lives
     * only while it is written and read (steps first + s and first + s + 1), as whole stages would.
     */
    void declare(MemoryPlan.Builder p, int first) {
        XcitConfig cfg = model.config();
        int last = first + stages - 1;
        if (!fixedPositions) {
            p.add("pe.posFeatures", Shape.of((long) bandRows * gridW, 2 * FourierPosition.HIDDEN), first, last)
                    .add("pe.position", Shape.of((long) bandRows * gridW, cfg.embedDim()), first, last);
        }
        for (int s = 0; s < stages - 1; s++) {
            p.add("pe.stage" + s, Shape.of(1, bufferRows[s], outW[s], cfg.patchStageChannels(s)),
                    bands > 1 ? first : first + s, bands > 1 ? last : first + s + 1);
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
        Tensor[] stageBand = new Tensor[stages - 1];
        for (int s = 0; s < stages - 1; s++) stageBand[s] = plan.tensor("pe.stage" + s);
        convIn = new Tensor[bands][stages];
        convOut = new Tensor[bands][stages];
        carry = new DataMoves.Copy[bands][stages - 1];
        posFeatures = new Tensor[bands];
        position = new Tensor[bands];
        tokenRows = new Tensor[batch][bands];
        for (int j = 0; j < bands; j++) {
            int a = j * bandRows, b = Math.min(gridH, a + bandRows);
            for (int s = 0; s < stages - 1; s++) {
                int n = hi(s, b) - lo(s, a);
                convOut[j][s] = DataMoves.rows(stageBand[s], carryRows, carryRows + n);
                // The next stage reads from row 2lo - 2: the carry's two rows, but none in the first band.
                convIn[j][s + 1] = DataMoves.rows(stageBand[s], a == 0 ? carryRows : 0, carryRows + n);
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
        if (input != this.input) {
            images = new Tensor[tokenRows.length];
            for (int img = 0; img < images.length; img++) images[img] = input.slice(img, img + 1);
            this.input = input;
        }
        PatchEmbed pe = model.patchEmbed();
        for (int img = 0; img < tokenRows.length; img++) {
            for (int j = 0; j < bands; j++) {
                int a = j * bandRows;
                if (!fixedPositions) {
                    FourierPosition.features(posFeatures[j], gridH, gridW, a, Math.min(gridH, a + bandRows));
                    model.position().project(backend, position[j], posFeatures[j]);
                }
                Tensor tokensOut = tokenRows[img][j];
                pe.convImageBand(backend, stages > 1 ? convOut[j][0] : tokensOut, images[img], lo(0, a));
                for (int s = 1; s < stages; s++) {
                    pe.convBand(backend, s, s + 1 < stages ? convOut[j][s] : tokensOut, convIn[j][s], a == 0 ? 0 : 1);
                }
                if (j + 1 < bands) {
                    for (DataMoves.Copy move : carry[j]) move.run(backend);
                }
                backend.addBroadcast(tokensOut, position[j]);
            }
        }
    }
}
