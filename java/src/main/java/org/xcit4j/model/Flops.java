package org.xcit4j.model;

/**
 * FLOPs of one forward of the reference computation (timm's), counted the way fvcore and
 * torch's FlopCounterMode count them: 2 x the multiply-adds of every convolution, Linear and
 * matmul, nothing for norms, activations, softmax or additions. Benchmarks divide this by
 * the latency, so a backend that fuses or skips work (BatchNorm folding, a position encoding
 * computed once per session) is still credited with the same work as timm.
 */
public final class Flops {
    private Flops() {
    }

    /**
     * FLOPs of one forward on a (batch, 3, height, width) input; checked against torch's counter in FlopsTest.
     *
     * @param c the configuration
     * @param batch B, images per forward
     * @param height H, the input height in pixels
     * @param width W, the input width in pixels
     * @return FLOPs (2 per multiply-add)
     */
    public static long forward(XcitConfig c, int batch, int height, int width) {
        return 2 * batch * macsPerImage(c, height, width);
    }

    /** Multiply-adds for one image, by module; sizes not a multiple of the patch follow the ceil rule. */
    static long macsPerImage(XcitConfig c, int height, int width) {
        long dim = c.embedDim(), n = (long) c.gridSide(height) * c.gridSide(width), t = n + 1;
        long macs = patchEmbed(c, height, width);
        macs += n * 2L * XcitConfig.POSITION_HIDDEN * dim;       // Fourier features 64 -> C, 1x1 conv
        long perBlock = n * dim * 3 * dim                          // qkv
                + 2 * n * dim * c.headDim()                        // XCA Gram (d x d per head) and its application
                + n * dim * dim                                    // proj
                + 2 * n * dim * 9                                  // LPI: two depthwise 3x3 convs
                + 2 * n * dim * c.hiddenDim();                     // MLP fc1, fc2
        macs += c.depth() * perBlock;
        long perClsBlock = dim * dim                               // q of the cls row only
                + 2 * t * dim * dim                                // k and v of every row
                + 2 * t * dim                                      // q.k and attn.v over T rows (all heads)
                + dim * dim                                        // proj
                + 2 * dim * c.hiddenDim();                         // MLP on the cls row
        macs += c.clsAttnLayers() * perClsBlock;
        return macs + dim * c.numClasses();                        // head
    }

    /** The conv3x3/stride-2 stages: each output pixel costs Cin * 9 multiply-adds per output channel. */
    private static long patchEmbed(XcitConfig c, int height, int width) {
        long macs = 0;
        int h = height, w = width, in = 3;
        for (int s = 0; s < c.patchStages(); s++) {
            h = (h + 1) / 2;
            w = (w + 1) / 2;
            int out = c.patchStageChannels(s);
            macs += (long) h * w * out * in * 9;
            in = out;
        }
        return macs;
    }
}
