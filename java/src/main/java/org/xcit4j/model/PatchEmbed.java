package org.xcit4j.model;

import java.util.ArrayList;
import java.util.List;
import org.xcit4j.backend.Backend;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * timm's ConvPatchEmbed: conv3x3(stride 2, pad 1, no bias) -> BatchNorm stages with GELU
 * between them (none after the last). Each BatchNorm folds exactly into its conv, giving a
 * weight and a bias per stage. Checkpoint keys: {@code proj.<2s>.0.weight}, {@code proj.<2s>.1.*}.
 */
final class PatchEmbed {
    /** One folded stage: weight (Cout, Cin, 3, 3), bias (Cout). */
    record Stage(Tensor weight, Tensor bias) {
    }

    private final List<Stage> stages;
    private final long parameters;

    private PatchEmbed(List<Stage> stages, long parameters) {
        this.stages = stages;
        this.parameters = parameters;
    }

    static PatchEmbed load(WeightScope scope, XcitConfig config) {
        List<Stage> stages = new ArrayList<>();
        long params = 0;
        int in = 3;
        for (int s = 0; s < config.patchStages(); s++) {
            int out = config.patchStageChannels(s);
            WeightScope stage = scope.child("proj").child(2 * s);
            Tensor conv = stage.child("0").tensor("weight", out, in, 3, 3);
            BatchNorm bn = BatchNorm.load(stage.child("1"), out);
            Tensor weight = Tensor.allocate(scope.arena(), conv.shape());
            int perOut = in * 9;
            for (int o = 0; o < out; o++) {
                // Folding in float: one rounding of w * scale, as exact as the unfused conv + BN.
                float scale = bn.scale().get(o);
                for (int i = 0; i < perOut; i++) weight.set((long) o * perOut + i, conv.get((long) o * perOut + i) * scale);
            }
            stages.add(new Stage(weight, bn.shift()));
            params += conv.numel() + bn.parameters();
            in = out;
        }
        return new PatchEmbed(List.copyOf(stages), params);
    }

    int stageCount() {
        return stages.size();
    }

    Stage stage(int s) {
        return stages.get(s);
    }

    /** Output shape of stage {@code s} for a (B, 3, H, W) input: (B, ceil(H/2^(s+1)), ..., Cout). */
    static Shape stageShape(XcitConfig config, int s, int batch, int height, int width) {
        int h = height, w = width;
        for (int i = 0; i <= s; i++) {
            h = (h + 1) / 2;
            w = (w + 1) / 2;
        }
        return Shape.of(batch, h, w, config.patchStageChannels(s));
    }

    /**
     * image (B, H, W, 3) channel-last -> stageOut[last] (B, Hp, Wp, C), which is also the
     * (B, N, C) token matrix. {@code stageOut[s]} holds stage s's output (after its GELU).
     */
    void forward(Backend backend, Tensor image, Tensor[] stageOut) {
        Tensor in = image;
        for (int s = 0; s < stages.size(); s++) {
            convBand(backend, s, stageOut[s], in, 0);
            in = stageOut[s];
        }
    }

    /** Stage s's output rows from {@code firstRow} into out (see Backend.conv3x3s2), with the GELU after every stage but the last. */
    void convBand(Backend backend, int s, Tensor out, Tensor in, int firstRow) {
        backend.conv3x3s2(out, in, firstRow, stages.get(s).weight(), stages.get(s).bias(), s < stages.size() - 1);
    }

    /** Stage 0's output rows from {@code firstRow} of a channel-first (B, 3, H, W) image, read in place. */
    void convImageBand(Backend backend, Tensor out, Tensor image, int firstRow) {
        backend.conv3x3s2ChannelsFirst(out, image, firstRow, stages.get(0).weight(), stages.get(0).bias(), stages.size() > 1);
    }

    long parameters() {
        return parameters;
    }
}
