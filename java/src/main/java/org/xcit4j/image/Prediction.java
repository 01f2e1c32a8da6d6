package org.xcit4j.image;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * One class of a top-K answer.
 *
 * @param label       the class name (see {@link Labels})
 * @param index       the class index, the logit's position
 * @param probability softmax probability over all classes, 0..1
 */
public record Prediction(String label, int index, double probability) {

    /**
     * The {@code k} most probable classes of one row of logits, most probable first (ties by
     * lower index). The softmax runs in double after subtracting the largest logit, so large
     * logits neither overflow nor lose the small probabilities.
     *
     * @param logits one image's logits
     * @param labels one name per logit
     * @param k how many classes, at least 1
     * @return at most k predictions, most probable first
     */
    public static List<Prediction> topK(float[] logits, Labels labels, int k) {
        if (k < 1) throw new IllegalArgumentException("top-K needs K >= 1, got " + k);
        if (labels.size() != logits.length) {
            throw new IllegalArgumentException(labels.size() + " labels for " + logits.length + " classes");
        }
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l);
        double[] e = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < logits.length; i++) sum += e[i] = Math.exp(logits[i] - max);
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < logits.length; i++) order.add(i);
        order.sort(Comparator.<Integer>comparingDouble(i -> -logits[i]).thenComparingInt(i -> i));
        List<Prediction> out = new ArrayList<>();
        for (int r = 0; r < Math.min(k, logits.length); r++) {
            int i = order.get(r);
            out.add(new Prediction(labels.name(i), i, e[i] / sum));
        }
        return List.copyOf(out);
    }
}
