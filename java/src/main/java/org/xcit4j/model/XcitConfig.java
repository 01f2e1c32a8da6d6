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

    /**
     * Checks the configuration.
     *
     * @throws IllegalArgumentException naming the first inconsistent value
     */
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

    /**
     * A configuration with the published defaults for the class-attention stage and MLP.
     *
     * @param patchSize 16 or 8
     * @param embedDim C
     * @param depth XCA blocks
     * @param numHeads heads
     * @param numClasses classifier outputs, 0 for none
     * @param tokensNorm the class-attention norm
     * @return the configuration
     */
    public static XcitConfig of(int patchSize, int embedDim, int depth, int numHeads, int numClasses, boolean tokensNorm) {
        return new XcitConfig(patchSize, embedDim, depth, numHeads, numClasses, tokensNorm, 2, 4);
    }

    /**
     * The head dimension d.
     *
     * @return C / heads
     */
    public int headDim() {
        return embedDim / numHeads;
    }

    /**
     * The MLPs' hidden width.
     *
     * @return C times the MLP ratio
     */
    public int hiddenDim() {
        return embedDim * mlpRatio;
    }

    /**
     * Number of conv3x3/stride-2 stages in the patch embedding: log2(patch).
     *
     * @return 3 or 4
     */
    public int patchStages() {
        return patchSize == 16 ? 4 : 3;
    }

    /**
     * Channels after patch-embedding stage {@code s}: C/8, C/4, C/2, C for p16; C/4, C/2, C for p8.
     *
     * @param s the stage, from 0
     * @return its output channels
     */
    public int patchStageChannels(int s) {
        return embedDim >> (patchStages() - 1 - s);
    }

    /**
     * The token grid side for an input side: each stage maps s to ceil(s / 2).
     *
     * @param inputSide an input side in pixels
     * @return the grid side in tokens
     */
    public int gridSide(int inputSide) {
        int s = inputSide;
        for (int i = 0; i < patchStages(); i++) s = (s + 1) / 2;
        return s;
    }

    /**
     * A copy with another head.
     *
     * @param classes classifier outputs, 0 for none
     * @return the configuration
     */
    public XcitConfig withNumClasses(int classes) {
        return new XcitConfig(patchSize, embedDim, depth, numHeads, classes, tokensNorm, clsAttnLayers, mlpRatio);
    }

    /**
     * A copy with another class-attention norm.
     *
     * @param norm the norm
     * @return the configuration
     */
    public XcitConfig withTokensNorm(boolean norm) {
        return new XcitConfig(patchSize, embedDim, depth, numHeads, numClasses, norm, clsAttnLayers, mlpRatio);
    }
}
