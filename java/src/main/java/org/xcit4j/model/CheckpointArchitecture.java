package org.xcit4j.model;

import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.xcit4j.tensor.Tensor;

/**
 * Reads the architecture off a checkpoint in timm naming: embed dim from the positional projection,
 * depth from the {@code blocks.i} indices, heads from the temperature, patch size from the
 * number of patch-embedding stages, classes from the head. tokens_norm is not stored in
 * checkpoints; it comes from the matching zoo architecture or from the caller. A checkpoint
 * without {@code cls_token} is a dense (detection/segmentation) backbone: no class attention.
 */
final class CheckpointArchitecture {
    private static final Pattern BLOCK = Pattern.compile("blocks\\.(\\d+)\\..*");
    private static final Pattern CLS_BLOCK = Pattern.compile("cls_attn_blocks\\.(\\d+)\\..*");
    private static final Pattern STAGE = Pattern.compile("patch_embed\\.proj\\.(\\d+)\\.0\\.weight");

    private CheckpointArchitecture() {
    }

    /**
     * The configuration of {@code tensors}; {@code tokensNorm} overrides the zoo's value and is
     * required when the architecture is not a zoo one.
     */
    public static XcitConfig infer(String source, Map<String, Tensor> tensors, Optional<Boolean> tokensNorm) {
        Tensor projection = tensors.get("pos_embed.token_projection.weight");
        Tensor cls = tensors.get("cls_token");
        if (projection == null || projection.shape().rank() != 4 || (cls != null && cls.shape().rank() != 3)) {
            throw new IllegalArgumentException(source + ": not an XCiT checkpoint (no 'pos_embed.token_projection.weight' of shape"
                    + " (C, 64, 1, 1) or no 'cls_token' of shape (1, 1, C); keys start with "
                    + tensors.keySet().stream().limit(3).toList() + ")");
        }
        long c = projection.shape().dim(0);
        if (c <= 0 || c > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(source + ": 'pos_embed.token_projection.weight' has shape " + projection.shape()
                    + ": its first size is the embed dim C, which must be a positive int");
        }
        String deepest = deepestKey(tensors, BLOCK), deepestCls = deepestKey(tensors, CLS_BLOCK);
        int depth = 1 + index(deepest, BLOCK);
        int clsLayers = 1 + index(deepestCls, CLS_BLOCK);
        int stages = (int) tensors.keySet().stream().filter(k -> STAGE.matcher(k).matches()).count();
        Tensor temperature = tensors.get("blocks.0.attn.temperature");
        Tensor fc1 = tensors.get("blocks.0.mlp.fc1.weight");
        if (depth == 0 || temperature == null || fc1 == null) {
            throw new IllegalArgumentException(source + ": not an XCiT checkpoint (no 'blocks.0.attn.temperature' / 'blocks.0.mlp.fc1.weight')");
        }
        if (stages != 3 && stages != 4) {
            throw new IllegalArgumentException(source + ": found " + stages
                    + " patch-embedding stages ('patch_embed.proj.<i>.0.weight'), expected 4 (patch 16) or 3 (patch 8)");
        }
        Tensor head = tensors.get("head.weight");
        // A backbone without cls_token (a detection/segmentation backbone) has no class-attention
        // stage, so tokens_norm means nothing for it.
        boolean backboneOnly = cls == null;
        XcitConfig shape;
        try {
            int classes = head == null ? 0 : head.shape().size(0);
            shape = new XcitConfig(stages == 4 ? 16 : 8, (int) c, depth, temperature.shape().size(0), classes,
                    true, backboneOnly ? 0 : clsLayers, fc1.shape().size(0) / (int) c);
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new IllegalArgumentException(source + ": inconsistent architecture: " + e.getMessage(), e);
        }
        checkBackedByTheFile(source, tensors, shape, backboneOnly ? null : deepestCls, deepest);
        Optional<ModelZoo.Architecture> zoo = ModelZoo.architectureOf(shape);
        if (tokensNorm.isPresent()) return shape.withTokensNorm(tokensNorm.get());
        if (zoo.isPresent()) return shape.withTokensNorm(zoo.get().tokensNorm());
        if (backboneOnly) return shape.withTokensNorm(false);
        throw new IllegalArgumentException(source + ": patch " + shape.patchSize() + ", C=" + c + ", depth " + depth + ", "
                + shape.numHeads() + " heads is not a zoo architecture, so tokens_norm is unknown"
                + " (checkpoints do not store it): say it explicitly (LoadOptions.withTokensNorm)");
    }

    /** Checks an inferred configuration against a zoo model name; throws naming every difference. */
    public static void check(String source, XcitConfig inferred, ModelZoo.Entry expected) {
        ModelZoo.Architecture a = expected.architecture();
        if (a.matches(inferred)) return;
        throw new IllegalArgumentException(source + ": checkpoint is patch " + inferred.patchSize() + ", C=" + inferred.embedDim()
                + ", depth " + inferred.depth() + ", " + inferred.numHeads() + " heads"
                + ModelZoo.architectureOf(inferred).map(z -> " (" + z.arch() + ")").orElse("")
                + ", but model " + expected.name() + " (LoadOptions.withModel) is patch " + a.patchSize() + ", C=" + a.embedDim()
                + ", depth " + a.depth() + ", " + a.numHeads() + " heads");
    }

    /**
     * The model is built from the inferred sizes, with zeros where a tensor is missing or
     * mis-shaped (to report every problem at once), so the sizes must first be checked
     * against what the file really holds: one zero-size key 'blocks.9999.attn.temperature'
     * would otherwise allocate 10,000 blocks. Every XCA and class-attention block holds at
     * least (4 + 2 mlp_ratio) C^2 weights (qkv or q/k/v, proj, fc1, fc2), the head classes x C;
     * the file must hold at least half of that in values, which still lets a few missing keys be
     * reported by name.
     */
    private static void checkBackedByTheFile(String source, Map<String, Tensor> tensors, XcitConfig config,
                                             String deepestCls, String deepest) {
        long present = 0;
        for (Tensor t : tensors.values()) present += t.numel();
        long blocks = (long) config.depth() + config.clsAttnLayers();
        long c = config.embedDim();
        double floor = (double) blocks * c * c * (4 + 2.0 * config.mlpRatio()) + (double) config.numClasses() * c;
        if (floor > 2.0 * present + (1 << 20)) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "%s: depth %d (from '%s')%s, C=%d and"
                    + " %d classes need at least %.0f weights, but the checkpoint holds only %d values: not a consistent"
                    + " checkpoint (keys of blocks that are not there?)", source, config.depth(), deepest,
                    deepestCls == null ? "" : ", " + config.clsAttnLayers() + " class-attention blocks (from '" + deepestCls + "')",
                    c, config.numClasses(), floor, present));
        }
    }

    /** The key with the highest block index for {@code p} (group 1), or null; indices above 6 digits are not blocks. */
    private static String deepestKey(Map<String, Tensor> tensors, Pattern p) {
        String best = null;
        for (String k : tensors.keySet()) {
            Matcher m = p.matcher(k);
            if (m.matches() && m.group(1).length() <= 6 && (best == null || index(k, p) > index(best, p))) best = k;
        }
        return best;
    }

    private static int index(String key, Pattern p) {
        if (key == null) return -1;
        Matcher m = p.matcher(key);
        if (!m.matches()) throw new IllegalStateException(key);
        return Integer.parseInt(m.group(1));
    }
}
