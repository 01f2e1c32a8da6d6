package org.xcit4j.image;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Class names by index. Sources, in the order a classifier tries them: a file the user gives,
 * the checkpoint's safetensors metadata key {@code labels} (a JSON array of strings; the demo
 * model carries its names this way), the bundled ImageNet-1k names for a 1000-class head
 * (timm's WordNet lemmas, e.g. "tench, Tinca tinca"), and finally "class N".
 */
public final class Labels {
    /** The safetensors metadata key holding a JSON array of class names. */
    public static final String METADATA_KEY = "labels";
    private static final String IMAGENET_RESOURCE = "/org/xcit4j/labels/imagenet1k.txt";

    private final List<String> names;

    private Labels(List<String> names) {
        this.names = List.copyOf(names);
    }

    /**
     * The given names, in class-index order.
     *
     * @param names one name per class, at least one
     * @return the labels
     */
    public static Labels of(List<String> names) {
        if (names.isEmpty()) throw new IllegalArgumentException("no class names");
        return new Labels(names);
    }

    /**
     * "class 0" .. "class n-1", for heads whose names are unknown.
     *
     * @param n the number of classes
     * @return the labels
     */
    public static Labels numbered(int n) {
        List<String> names = new ArrayList<>(n);
        for (int i = 0; i < n; i++) names.add("class " + i);
        return new Labels(names);
    }

    /**
     * The 1000 ImageNet-1k class names bundled with xcit4j, in timm's index order.
     *
     * @return the labels
     */
    public static Labels imageNet1k() {
        try (InputStream in = Labels.class.getResourceAsStream(IMAGENET_RESOURCE)) {
            if (in == null) throw new IllegalStateException("resource " + IMAGENET_RESOURCE + " is missing from the jar");
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                return new Labels(r.lines().toList());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Reads a labels file: a JSON array of strings, or else one name per line (blank lines
     * and a trailing newline ignored at the end only, so indices stay line numbers).
     *
     * @param file a labels file
     * @return the labels
     * @throws IOException if the file cannot be read or is empty
     * @throws IllegalArgumentException if its JSON is not an array of strings
     */
    public static Labels read(Path file) throws IOException {
        String text = Files.readString(file, StandardCharsets.UTF_8);
        if (text.stripLeading().startsWith("[")) return parseJson(file.toString(), text);
        List<String> lines = new ArrayList<>(text.lines().map(String::strip).toList());
        while (!lines.isEmpty() && lines.getLast().isEmpty()) lines.removeLast();
        if (lines.isEmpty()) throw new IOException(file + ": the labels file is empty");
        return new Labels(lines);
    }

    /**
     * The names in the checkpoint metadata ({@value #METADATA_KEY}), if present.
     *
     * @param source names the checkpoint in messages
     * @param metadata the checkpoint's metadata
     * @return the labels, or empty without that key
     */
    public static Optional<Labels> fromMetadata(String source, Map<String, String> metadata) {
        String json = metadata.get(METADATA_KEY);
        return json == null ? Optional.empty() : Optional.of(parseJson(source + " metadata '" + METADATA_KEY + "'", json));
    }

    /**
     * The names for a model: the checkpoint metadata's, else ImageNet-1k for 1000 classes,
     * else numbered. Metadata with the wrong count is an error, not silently ignored.
     *
     * @param source names the checkpoint in messages
     * @param metadata the checkpoint's metadata
     * @param numClasses the model's classes
     * @return one name per class
     */
    public static Labels forModel(String source, Map<String, String> metadata, int numClasses) {
        Optional<Labels> meta = fromMetadata(source, metadata);
        if (meta.isPresent()) return meta.get().requireSize(numClasses, source + " metadata '" + METADATA_KEY + "'");
        return numClasses == 1000 ? imageNet1k() : numbered(numClasses);
    }

    /**
     * This list, after checking it has one name per class; {@code what} names it in the error.
     *
     * @param numClasses the model's classes
     * @param what names the list in the error
     * @return this list
     * @throws IllegalArgumentException if the counts differ
     */
    public Labels requireSize(int numClasses, String what) {
        if (names.size() != numClasses) {
            throw new IllegalArgumentException(what + " has " + names.size() + " class names but the model has "
                    + numClasses + " classes");
        }
        return this;
    }

    private static Labels parseJson(String what, String json) {
        try {
            JsonElement e = JsonParser.parseString(json);
            if (!e.isJsonArray()) throw new IllegalArgumentException(what + ": expected a JSON array of class names");
            JsonArray a = e.getAsJsonArray();
            List<String> names = new ArrayList<>(a.size());
            for (JsonElement n : a) {
                if (!n.isJsonPrimitive() || !n.getAsJsonPrimitive().isString()) {
                    throw new IllegalArgumentException(what + ": expected strings, found " + n);
                }
                names.add(n.getAsString());
            }
            if (names.isEmpty()) throw new IllegalArgumentException(what + ": no class names");
            return new Labels(names);
        } catch (JsonParseException ex) {
            throw new IllegalArgumentException(what + ": not valid JSON (" + ex.getMessage() + ")");
        }
    }

    /**
     * The name of one class.
     *
     * @param index the class index
     * @return its name
     */
    public String name(int index) {
        return names.get(index);
    }

    /**
     * The number of classes.
     *
     * @return the count
     */
    public int size() {
        return names.size();
    }

    /**
     * Every name, in class-index order.
     *
     * @return an unmodifiable list
     */
    public List<String> names() {
        return names;
    }

    @Override
    public String toString() {
        return "Labels(" + names.size() + ": " + names.getFirst() + ", ...)";
    }
}
