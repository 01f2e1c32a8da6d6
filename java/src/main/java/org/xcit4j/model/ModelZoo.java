package org.xcit4j.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The 14 published XCiT architectures (spec section 7), each as {@code _224} and {@code _384},
 * with timm's pretrained tags accepted as aliases ({@code xcit_small_12_p16_224.fb_in1k}).
 */
public final class ModelZoo {

    /**
     * One architecture of the table; {@code params} counts the 1000-class head.
     *
     * @param arch timm's architecture name, such as xcit_small_12_p16
     * @param patchSize 16 or 8
     * @param embedDim C
     * @param depth XCA blocks
     * @param numHeads heads
     * @param tokensNorm the class-attention norm
     * @param params parameters with a 1000-class head
     */
    public record Architecture(String arch, int patchSize, int embedDim, int depth, int numHeads,
                               boolean tokensNorm, long params) {
        /**
         * The configuration with a head of {@code numClasses}.
         *
         * @param numClasses classifier outputs
         * @return the configuration
         */
        public XcitConfig config(int numClasses) {
            return XcitConfig.of(patchSize, embedDim, depth, numHeads, numClasses, tokensNorm);
        }

        /**
         * Whether a configuration inferred from a checkpoint has this architecture's shape.
         *
         * @param c an inferred configuration
         * @return whether patch, C, depth and heads agree
         */
        public boolean matches(XcitConfig c) {
            return c.patchSize() == patchSize && c.embedDim() == embedDim && c.depth() == depth && c.numHeads() == numHeads;
        }
    }

    /**
     * A resolved zoo name: the architecture and the input side its weights were trained at.
     *
     * @param name the zoo name, such as xcit_small_12_p16_224
     * @param architecture its architecture
     * @param inputSize 224 or 384
     */
    public record Entry(String name, Architecture architecture, int inputSize) {
        /**
         * The configuration with the 1000-class ImageNet head.
         *
         * @return the configuration
         */
        public XcitConfig config() {
            return architecture.config(1000);
        }
    }

    /**
     * The table, in the paper's order.
     */
    public static final List<Architecture> ARCHITECTURES = List.of(
            new Architecture("xcit_nano_12_p16", 16, 128, 12, 4, false, 3_053_224L),
            new Architecture("xcit_tiny_12_p16", 16, 192, 12, 4, true, 6_716_272L),
            new Architecture("xcit_tiny_24_p16", 16, 192, 24, 4, true, 12_116_896L),
            new Architecture("xcit_small_12_p16", 16, 384, 12, 8, true, 26_253_304L),
            new Architecture("xcit_small_24_p16", 16, 384, 24, 8, true, 47_671_384L),
            new Architecture("xcit_medium_24_p16", 16, 512, 24, 8, true, 84_395_752L),
            new Architecture("xcit_large_24_p16", 16, 768, 24, 16, true, 189_096_136L),
            new Architecture("xcit_nano_12_p8", 8, 128, 12, 4, false, 3_049_016L),
            new Architecture("xcit_tiny_12_p8", 8, 192, 12, 4, true, 6_706_504L),
            new Architecture("xcit_tiny_24_p8", 8, 192, 24, 4, true, 12_107_128L),
            new Architecture("xcit_small_12_p8", 8, 384, 12, 8, true, 26_213_032L),
            new Architecture("xcit_small_24_p8", 8, 384, 24, 8, true, 47_631_112L),
            new Architecture("xcit_medium_24_p8", 8, 512, 24, 8, true, 84_323_624L),
            new Architecture("xcit_large_24_p8", 8, 768, 24, 16, true, 188_932_648L));

    private static final int[] SIZES = {224, 384};
    private static final Map<String, Entry> ENTRIES = new LinkedHashMap<>();

    static {
        for (Architecture a : ARCHITECTURES) {
            for (int size : SIZES) {
                String name = a.arch() + "_" + size;
                ENTRIES.put(name, new Entry(name, a, size));
            }
        }
    }

    private ModelZoo() {
    }

    /**
     * Every model name: {@code <arch>_224} and {@code <arch>_384}.
     *
     * @return a new list of every entry
     */
    public static List<Entry> entries() {
        return new ArrayList<>(ENTRIES.values());
    }

    /**
     * Resolves a model name: a zoo name, optionally with a pretrained tag ({@code .fb_in1k},
     * {@code .fb_dist_in1k}), or a bare architecture (then 224).
     *
     * @param name a model name
     * @return the entry, or empty
     */
    public static Optional<Entry> find(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        int dot = n.indexOf('.');
        if (dot >= 0) {
            String tag = n.substring(dot + 1);
            if (!tag.equals("fb_in1k") && !tag.equals("fb_dist_in1k")) return Optional.empty();
            n = n.substring(0, dot);
        }
        Entry e = ENTRIES.get(n);
        if (e == null) e = ENTRIES.get(n + "_224");
        return Optional.ofNullable(e);
    }

    /**
     * Like {@link #find} but with an error listing the valid names.
     *
     * @param name a model name
     * @return the entry
     * @throws IllegalArgumentException if the name is unknown
     */
    public static Entry require(String name) {
        return find(name).orElseThrow(() -> new IllegalArgumentException("unknown model '" + name
                + "': expected one of " + String.join(", ", ENTRIES.keySet())
                + " (optionally with .fb_in1k or .fb_dist_in1k)"));
    }

    /**
     * The architecture a configuration has, if it is one of the zoo's.
     *
     * @param c a configuration
     * @return the architecture, or empty
     */
    public static Optional<Architecture> architectureOf(XcitConfig c) {
        return ARCHITECTURES.stream().filter(a -> a.matches(c)).findFirst();
    }
}
