package org.xcit4j.model;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Hands out checkpoint tensors by scope ({@code scope.child("attn").tensor("qkv.weight", 3C, C)}),
 * so weight names are composed in one place. Loading is strict but never stops at the first
 * problem: a missing or mis-shaped tensor is recorded and replaced by zeros of the expected
 * shape, and {@link #finish()} reports every missing, mis-shaped and unexpected key at once.
 */
final class WeightScope {
    private final Root root;
    private final String prefix;

    private static final class Root {
        final String source;
        final Map<String, Tensor> tensors;
        final Arena arena;
        final Set<String> used = new LinkedHashSet<>();
        final List<String> missing = new ArrayList<>();
        final List<String> misShaped = new ArrayList<>();
        final RandomWeights random;
        /** A random root that also invents the optional weights (the FPN's): {@link #has} says yes to all. */
        final boolean inventsOptional;

        Root(String source, Map<String, Tensor> tensors, Arena arena, RandomWeights random, boolean inventsOptional) {
            this.source = source;
            this.tensors = tensors;
            this.arena = arena;
            this.random = random;
            this.inventsOptional = inventsOptional;
        }
    }

    private WeightScope(Root root, String prefix) {
        this.root = root;
        this.prefix = prefix;
    }

    /**
     * The root scope over {@code tensors} (timm naming), read from {@code source} (for
     * messages). Derived weights (folded BatchNorms, concatenations) are allocated in {@code arena}.
     */
    public static WeightScope root(String source, Map<String, Tensor> tensors, Arena arena) {
        return new WeightScope(new Root(source, tensors, arena, null, false), "");
    }

    /**
     * A root scope that invents every tensor it is asked for: seeded, non-trivial values (see
     * {@link RandomWeights}), for benchmarks and tests that need a model of a given shape.
     * With {@code optional}, {@link #has} is true for every name, so optional parts (the FPN of
     * a dense checkpoint) get weights too; without, they are absent as in a classification checkpoint.
     */
    public static WeightScope random(long seed, Arena arena, boolean optional) {
        return new WeightScope(new Root("random weights (seed " + seed + (optional ? ", with the FPN" : "") + ")", Map.of(),
                arena, new RandomWeights(seed), optional), "");
    }

    public WeightScope child(String name) {
        return new WeightScope(root, prefix + name + ".");
    }

    public WeightScope child(int index) {
        return child(Integer.toString(index));
    }

    /** The arena that owns the model's weights, for tensors derived at load time. */
    public Arena arena() {
        return root.arena;
    }

    /** Tensor {@code name} of this scope, which must have exactly {@code dims}. */
    public Tensor tensor(String name, long... dims) {
        String key = prefix + name;
        Shape expected = Shape.of(dims);
        Tensor t = root.tensors.get(key);
        if (t == null && root.random != null) {
            return root.random.tensor(root.arena, key, expected);
        }
        if (t == null) {
            root.missing.add(key + " " + expected);
            return Tensor.allocate(root.arena, expected);
        }
        root.used.add(key);
        if (!t.shape().equals(expected)) {
            root.misShaped.add(key + " is " + t.shape() + ", expected " + expected);
            return Tensor.allocate(root.arena, expected);
        }
        return t;
    }

    /** Whether the checkpoint holds {@code name} in this scope (optional parts such as the head). */
    public boolean has(String name) {
        return root.tensors.containsKey(prefix + name) || root.inventsOptional;
    }

    /**
     * Throws one error naming every missing, mis-shaped and unexpected key. BatchNorm's
     * {@code num_batches_tracked} counters carry no inference information and are ignored.
     */
    public void finish() {
        Set<String> unexpected = new TreeSet<>();
        for (String key : root.tensors.keySet()) {
            if (!root.used.contains(key) && !key.endsWith(".num_batches_tracked")) unexpected.add(key);
        }
        if (root.missing.isEmpty() && root.misShaped.isEmpty() && unexpected.isEmpty()) return;
        StringBuilder msg = new StringBuilder(root.source).append(": checkpoint does not match the model:");
        append(msg, "missing", root.missing);
        append(msg, "wrong shape", root.misShaped);
        append(msg, "unexpected", new ArrayList<>(unexpected));
        throw new WeightMismatchException(msg.toString());
    }

    private static void append(StringBuilder msg, String what, List<String> keys) {
        if (keys.isEmpty()) return;
        int shown = Math.min(keys.size(), 12);
        msg.append(' ').append(what).append(" (").append(keys.size()).append("): ")
                .append(String.join(", ", keys.subList(0, shown)));
        if (shown < keys.size()) msg.append(", ... ").append(keys.size() - shown).append(" more");
        msg.append(';');
    }

    /** A checkpoint whose keys or shapes do not fit the model; the message lists them all. */
    public static final class WeightMismatchException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        public WeightMismatchException(String message) {
            super(message);
        }
    }
}
