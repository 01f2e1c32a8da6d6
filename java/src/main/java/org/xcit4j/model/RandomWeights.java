package org.xcit4j.model;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Seeded random weights with every value non-trivial (no zero biases, no identity
 * BatchNorms), so a model built from them exercises every term of the computation. Values are
 * scaled to keep activations O(1): matrices ~ N(0, 1/fan_in), scales ~ 1 + N(0, 0.1).
 */
final class RandomWeights {
    private final SplittableRandom random;

    RandomWeights(long seed) {
        this.random = new SplittableRandom(seed);
    }

    Tensor tensor(Arena arena, String key, Shape shape) {
        Tensor t = Tensor.allocate(arena, shape);
        String leaf = key.substring(key.lastIndexOf('.') + 1);
        long fanIn = shape.rank() >= 2 ? shape.numel() / shape.dim(0) : 1;
        for (long i = 0, n = t.numel(); i < n; i++) t.set(i, (float) sample(leaf, shape, fanIn));
        return t;
    }

    private double sample(String leaf, Shape shape, long fanIn) {
        return switch (leaf) {
            case "running_var" -> 0.5 + random.nextDouble();
            case "running_mean" -> 0.1 * random.nextGaussian();
            case "temperature" -> 0.5 + 1.5 * random.nextDouble();
            case "gamma1", "gamma2", "gamma3" -> 0.5 + random.nextDouble();
            case "cls_token" -> 0.5 * random.nextGaussian();
            case "bias" -> 0.1 * random.nextGaussian();
            // Rank-1 weights are LayerNorm and BatchNorm scales.
            case "weight" -> shape.rank() == 1 ? 1 + 0.1 * random.nextGaussian() : random.nextGaussian() / Math.sqrt(fanIn);
            default -> 0.1 * random.nextGaussian();
        };
    }
}
