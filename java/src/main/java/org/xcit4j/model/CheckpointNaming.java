package org.xcit4j.model;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.xcit4j.tensor.Tensor;

/**
 * Maps checkpoint key names to timm's (spec section 8). The original facebookresearch
 * checkpoints say {@code pos_embeder.} for {@code pos_embed.} and keep one
 * {@code cls_attn_blocks.j.attn.qkv} Linear whose rows are q, then k, then v; timm keeps three.
 * Checkpoints saved from a DistributedDataParallel wrapper prefix every key with {@code module.}.
 */
final class CheckpointNaming {
    private static final Pattern CLS_QKV = Pattern.compile("(cls_attn_blocks\\.\\d+\\.attn\\.)qkv\\.(weight|bias)");

    private CheckpointNaming() {
    }

    /** The same tensors under timm's names; split tensors are zero-copy row slices. */
    public static Map<String, Tensor> toTimm(Map<String, Tensor> tensors) {
        boolean ddp = !tensors.isEmpty() && tensors.keySet().stream().allMatch(k -> k.startsWith("module."));
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String key = ddp ? e.getKey().substring("module.".length()) : e.getKey();
            if (key.startsWith("pos_embeder.")) key = "pos_embed." + key.substring("pos_embeder.".length());
            Matcher m = CLS_QKV.matcher(key);
            Tensor t = e.getValue();
            if (m.matches() && t.shape().rank() >= 1 && t.shape().dim(0) % 3 == 0) {
                long c = t.shape().dim(0) / 3;
                String[] parts = {"q", "k", "v"};
                for (int i = 0; i < 3; i++) out.put(m.group(1) + parts[i] + "." + m.group(2), t.slice(i * c, (i + 1) * c));
            } else {
                out.put(key, t);
            }
        }
        return out;
    }
}
