package org.xcit4j.io;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.SequencedSet;
import org.xcit4j.tensor.DType;
import org.xcit4j.tensor.Tensor;

/**
 * The named tensors of one weight file, in file order. Every tensor is float32 whatever the
 * file stored (compute is float32); {@link #storedType(String)} tells what the file held, so
 * a loader can tell a weight from an integer counter such as BatchNorm's
 * {@code num_batches_tracked} (I64, kept as float32 only for uniformity and ignored later).
 * The tensors live in the arena the reader was given; this map owns no memory.
 */
public final class StateDict {
    private record Entry(Tensor tensor, DType storedType) {}

    private final Path source;
    private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>();
    private final Map<String, String> metadata;

    /**
     * An empty dict for tensors read from {@code source}, with the file's string metadata.
     *
     * @param source the file, for messages
     * @param metadata the file's string metadata
     */
    public StateDict(Path source, Map<String, String> metadata) {
        this.source = source;
        this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    /**
     * An empty dict for tensors read from {@code source}, without metadata.
     *
     * @param source the file, for messages
     */
    public StateDict(Path source) {
        this(source, Map.of());
    }

    /**
     * Adds a tensor; a key may appear once, as in every format this package reads.
     *
     * @param key the tensor's name
     * @param tensor the tensor, float32
     * @param storedType the element type in the file
     * @throws IllegalArgumentException if the key is there already
     */
    public void put(String key, Tensor tensor, DType storedType) {
        if (entries.containsKey(key)) {
            throw new IllegalArgumentException(source + ": duplicate tensor '" + key + "'");
        }
        entries.put(key, new Entry(tensor, storedType));
    }

    /**
     * The file the tensors came from, for messages.
     *
     * @return the file
     */
    public Path source() {
        return source;
    }

    /**
     * String metadata of the file (safetensors {@code __metadata__}); empty for other formats.
     *
     * @return the metadata, read-only
     */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * Whether a tensor is named {@code key}.
     *
     * @param key the name
     * @return true if so
     */
    public boolean contains(String key) {
        return entries.containsKey(key);
    }

    /**
     * The tensor named {@code key}, as float32.
     *
     * @param key the name
     * @return the tensor
     * @throws IllegalArgumentException if there is none
     */
    public Tensor get(String key) {
        return entry(key).tensor();
    }

    /**
     * The element type the file stored {@code key} with.
     *
     * @param key the name
     * @return the stored type
     * @throws IllegalArgumentException if there is none
     */
    public DType storedType(String key) {
        return entry(key).storedType();
    }

    /**
     * Keys in file order.
     *
     * @return the keys, read-only
     */
    public SequencedSet<String> keys() {
        return Collections.unmodifiableSequencedSet(entries.sequencedKeySet());
    }

    /**
     * The number of tensors.
     *
     * @return the count
     */
    public int size() {
        return entries.size();
    }

    /**
     * Key to tensor, in file order, read-only.
     *
     * @return the tensors by name
     */
    public Map<String, Tensor> tensors() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        entries.forEach((k, e) -> out.put(k, e.tensor()));
        return Collections.unmodifiableMap(out);
    }

    private Entry entry(String key) {
        Entry e = entries.get(key);
        if (e == null) {
            throw new NoSuchElementException(source + ": no tensor named '" + key + "' (the file has "
                    + entries.size() + " tensors" + nearby(key) + ")");
        }
        return e;
    }

    /** A hint for the common case of a renamed prefix: keys that differ only in their first part. */
    private String nearby(String key) {
        int dot = key.indexOf('.');
        if (dot < 0) return "";
        String rest = key.substring(dot);
        StringBuilder b = new StringBuilder();
        int shown = 0;
        for (String k : entries.keySet()) {
            if (k.endsWith(rest) && k.indexOf('.') == k.length() - rest.length()) {
                b.append(shown == 0 ? "; similar: " : ", ").append(k);
                if (++shown == 3) break;
            }
        }
        return b.toString();
    }

    @Override
    public String toString() {
        return "StateDict(" + source + ", " + entries.size() + " tensors)";
    }
}
