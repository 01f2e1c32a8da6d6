package org.xcit4j.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.xcit4j.tensor.Tensor;

/**
 * mmseg / mmdet checkpoints ({'state_dict': {'backbone.*', 'neck.*', 'decode_head.*', ...},
 * 'meta': ...}): the backbone's tensors, prefix removed, in original naming. SyncBN layers
 * store the same keys as BatchNorm, so nothing else changes. What is dropped is reported as
 * notes:
 * <ul>
 * <li>every non-backbone tensor (neck, decode/auxiliary heads, rpn/roi heads): xcit4j runs
 *     the backbone only;</li>
 * <li>backbone {@code cls_token}, {@code cls_attn_blocks.*}, {@code norm.*}, {@code head.*}:
 *     the original dense backbone has none of them (spec section 6), so where a checkpoint
 *     carries them they are leftovers of ImageNet initialisation that fine-tuning never used.
 *     Loading them would offer class-attention maps and logits from weights that do not fit
 *     the fine-tuned blocks, so the model is built as a backbone only.</li>
 * </ul>
 */
final class OpenMmlabLayout {
    private static final String BACKBONE = "backbone.";
    private static final List<String> CLASSIFIER = List.of("cls_token", "cls_attn_blocks.", "norm.", "head.");

    record Unwrapped(Map<String, Tensor> tensors, List<String> notes) {
    }

    private OpenMmlabLayout() {
    }

    /** Whether the keys look like an OpenMMLab detector/segmentor: an XCiT backbone under 'backbone.'. */
    static boolean matches(Map<String, Tensor> tensors) {
        return tensors.keySet().stream().anyMatch(k -> k.startsWith(BACKBONE + "patch_embed."));
    }

    static Unwrapped unwrap(Map<String, Tensor> tensors) {
        Map<String, Tensor> backbone = new LinkedHashMap<>();
        Map<String, Integer> others = new TreeMap<>();
        List<String> classifier = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String key = e.getKey();
            if (!key.startsWith(BACKBONE)) {
                int dot = key.indexOf('.');
                others.merge(dot < 0 ? key : key.substring(0, dot), 1, Integer::sum);
                continue;
            }
            String inner = key.substring(BACKBONE.length());
            if (CLASSIFIER.stream().anyMatch(p -> p.endsWith(".") ? inner.startsWith(p) : inner.equals(p))) {
                classifier.add(key);
            } else {
                backbone.put(inner, e.getValue());
            }
        }
        List<String> notes = new ArrayList<>();
        if (!others.isEmpty()) {
            List<String> parts = new ArrayList<>();
            others.forEach((prefix, n) -> parts.add(prefix + ".* (" + n + ")"));
            notes.add("mmseg/mmdet checkpoint: using 'backbone.*' only; ignored " + String.join(", ", parts)
                    + " (heads and necks are not part of xcit4j)");
        }
        if (!classifier.isEmpty()) {
            notes.add("ignored " + classifier.size() + " classification tensors in the backbone (" + String.join(", ",
                    classifier.subList(0, Math.min(3, classifier.size()))) + (classifier.size() > 3 ? ", ..." : "")
                    + "): the dense backbone has no class-attention stage, so this model gives dense outputs only");
        }
        return new Unwrapped(backbone, List.copyOf(notes));
    }
}
