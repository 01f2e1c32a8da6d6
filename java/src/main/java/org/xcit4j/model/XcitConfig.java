package org.xcit4j.model;

/**
 * The hyper-parameters of one XCiT network (spec sections 1-5, 7). Validated on construction,
 * so every other class may assume a consistent configuration.
 *
 * @param patchSize     16 (four stride-2 stages in the patch embedding) or 8 (three)
 * @param embedDim      C, the token width
 * @param depth         number of XCA blocks
 * @param numHeads      h; the head dimension is C / h
 * @param numClasses    classifier outputs; 0 means the checkpoint has no head
 * @param tokensNorm    whether class-attention blocks normalise every row (true) or only cls
 * @param clsAttnLayers number of class-attention blocks (2 in every published model)
 * @param mlpRatio      hidden width of every MLP over C (4 in every published model)
 */
public record XcitConfig(int patchSize, int embedDim, int depth, int numHeads, int numClasses,
                         boolean tokensNorm, int clsAttnLayers, int mlpRatio) {

    /** Channels of the Fourier positional features before their projection to C. */
    public static final int POSITION_HIDDEN = 32;

    public XcitConfig {
        if (patchSize != 8 && patchSize != 16) {
            throw new IllegalArgumentException("patchSize must be 8 or 16, got " + patchSize);
        }
        if (embedDim <= 0 || embedDim % (patchSize == 16 ? 8 : 4) != 0) {
            throw new IllegalArgumentException("embedDim " + embedDim + " must be a positive multiple of "
                    + (patchSize == 16 ? 8 : 4) + " for patch size " + patchSize);
        }
        if (numHeads <= 0 || embedDim % numHeads != 0) {
            throw new IllegalArgumentException("embedDim " + embedDim + " is not divisible by numHeads " + numHeads);
        }
        if (depth <= 0) throw new IllegalArgumentException("depth must be positive, got " + depth);
        if (numClasses < 0) throw new IllegalArgumentException("numClasses must be >= 0, got " + numClasses);
        if (clsAttnLayers < 0) throw new IllegalArgumentException("clsAttnLayers must be >= 0, got " + clsAttnLayers);
        if (mlpRatio <= 0) throw new IllegalArgumentException("mlpRatio must be positive, got " + mlpRatio);
    }

    /** A configuration with the published defaults for the class-attention stage and MLP. */
    public static XcitConfig of(int patchSize, int embedDim, int depth, int numHeads, int numClasses, boolean tokensNorm) {
        return new XcitConfig(patchSize, embedDim, depth, numHeads, numClasses, tokensNorm, 2, 4);
    }

    public int headDim() {
        return embedDim / numHeads;
    }

    public int hiddenDim() {
        return embedDim * mlpRatio;
    }

    /** Number of conv3x3/stride-2 stages in the patch embedding: log2(patch). */
    public int patchStages() {
        return patchSize == 16 ? 4 : 3;
    }

    /** Channels after patch-embedding stage {@code s}: C/8, C/4, C/2, C for p16; C/4, C/2, C for p8. */
    public int patchStageChannels(int s) {
        return embedDim >> (patchStages() - 1 - s);
    }

    /** The token grid side for an input side: each stage maps s to ceil(s / 2). */
    public int gridSide(int inputSide) {
        int s = inputSide;
        for (int i = 0; i < patchStages(); i++) s = (s + 1) / 2;
        return s;
    }

    public XcitConfig withNumClasses(int classes) {
        return new XcitConfig(patchSize, embedDim, depth, numHeads, classes, tokensNorm, clsAttnLayers, mlpRatio);
    }

    public XcitConfig withTokensNorm(boolean norm) {
        return new XcitConfig(patchSize, embedDim, depth, numHeads, numClasses, norm, clsAttnLayers, mlpRatio);
    }
}
