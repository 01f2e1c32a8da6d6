package org.xcit4j.io;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * A Python tuple from a pickle: immutable, equal by content, so it can key a dict. A pickle can
 * reference one memoised tuple many times, so a few hundred bytes can describe a tuple whose
 * tree has 4^24 paths; anything that walks it path by path (a structural hashCode, equals,
 * a recursive check) would never finish. So every tuple is measured once, when it is built,
 * from its direct items only: its hash (from the items' cached hashes), its depth and the
 * number of values its tree holds when shared parts are counted at each use ({@link #nodes()},
 * saturating). Dict keys are then checked against these numbers in constant time.
 */
final class PickleTuple {
    private final List<Object> items;
    private final int hash;
    private final long nodes;
    private final int depth;
    private final String unhashable;

    PickleTuple(List<Object> items) {
        this.items = Collections.unmodifiableList(new ArrayList<>(items));
        int h = 1;
        long n = 1;
        int d = 1;
        String bad = null;
        for (Object o : this.items) {
            if (o instanceof PickleTuple t) {
                h = 31 * h + t.hash;
                n = saturatingAdd(n, t.nodes);
                d = Math.max(d, t.depth + 1);
                if (bad == null) bad = t.unhashable;
            } else if (o instanceof List || o instanceof Map) {
                // Unhashable in Python; and a list may contain itself, so its hashCode may never return.
                h = 31 * h + System.identityHashCode(o);
                n = saturatingAdd(n, 1);
                if (bad == null) bad = o instanceof List ? "list" : "dict";
            } else {
                h = 31 * h + (o == null ? 0 : o.hashCode());
                n = saturatingAdd(n, 1);
            }
        }
        this.hash = h;
        this.nodes = n;
        this.depth = d;
        this.unhashable = bad;
    }

    List<Object> items() {
        return items;
    }

    int size() {
        return items.size();
    }

    Object get(int i) {
        return items.get(i);
    }

    /** Values in the tree, each use of a shared sub-tuple counted again (the work of walking it); saturates. */
    long nodes() {
        return nodes;
    }

    /** Nesting depth: 1 for a tuple of plain values. */
    int depth() {
        return depth;
    }

    /** Null when Python could hash it, else the type ("list" or "dict") inside that makes it unhashable. */
    String unhashable() {
        return unhashable;
    }

    @Override
    public int hashCode() {
        return hash;
    }

    /**
     * Structural equality. Only ever called on dict keys, which {@link Unpickler} bounds by
     * {@link #nodes()}, so the walk is bounded too; identical sub-tuples short-circuit.
     */
    @Override
    public boolean equals(Object o) {
        if (o == this) return true;
        return o instanceof PickleTuple t && t.hash == hash && t.nodes == nodes && t.items.equals(items);
    }

    @Override
    public String toString() {
        return "tuple of " + items.size();
    }

    private static long saturatingAdd(long a, long b) {
        long s = a + b;
        return s < 0 ? Long.MAX_VALUE : s;
    }
}
